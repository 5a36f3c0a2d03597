//! Where GitHub's two APIs live for one `api_url`: REST below it, GraphQL beside it. GitHub
//! serves REST at `https://api.github.com` and GraphQL at `https://api.github.com/graphql`;
//! Enterprise Server serves REST at `https://HOST/api/v3` and GraphQL at
//! `https://HOST/api/graphql`, so GraphQL is not always `<api_url>/graphql`.

use crate::forge::{ForgeError, ForgeResult};

/// The origin every request goes to and the two paths on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Endpoints {
    /// `scheme://host[:port]`: what octocrab is built with, so that it never joins paths itself.
    pub origin: String,
    /// The REST root's path (`""` for api.github.com, `/api/v3` for Enterprise Server); every
    /// REST path is appended to it.
    pub rest_path: String,
    /// The GraphQL endpoint's path.
    pub graphql_path: String,
}

impl Endpoints {
    /// Reads `api_url`: an absolute `http(s)` URL without query or fragment.
    pub fn of(api_url: &str) -> ForgeResult<Endpoints> {
        let bad = |why: &str| ForgeError::NotConfigured(format!("github.api_url {api_url}: {why}"));
        let uri: http::Uri = api_url.trim().parse().map_err(|_| bad("not a URL"))?;
        let scheme = uri.scheme_str().ok_or_else(|| bad("no scheme"))?;
        if scheme != "https" && scheme != "http" {
            return Err(bad("not http or https"));
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if uri.query().is_some() || api_url.contains('#') {
            return Err(bad("a query or fragment has no place in it"));
        }
        let rest_path = uri.path().trim_end_matches('/').to_string();
        let graphql_path = match rest_path.strip_suffix("/api/v3") {
            Some(prefix) => format!("{prefix}/api/graphql"),
            None => format!("{rest_path}/graphql"),
        };
        Ok(Endpoints {
            origin: format!("{scheme}://{authority}"),
            rest_path,
            graphql_path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Endpoints;

    fn paths(api_url: &str) -> (String, String, String) {
        let e = Endpoints::of(api_url).unwrap();
        (e.origin, e.rest_path, e.graphql_path)
    }

    #[test]
    fn graphql_sits_beside_the_rest_root() {
        assert_eq!(
            paths("https://api.github.com"),
            (
                "https://api.github.com".into(),
                "".into(),
                "/graphql".into()
            )
        );
        assert_eq!(
            paths("https://api.github.com/"),
            (
                "https://api.github.com".into(),
                "".into(),
                "/graphql".into()
            )
        );
        assert_eq!(
            paths("https://ghe.example.com/api/v3/"),
            (
                "https://ghe.example.com".into(),
                "/api/v3".into(),
                "/api/graphql".into()
            )
        );
        assert_eq!(
            paths("http://127.0.0.1:3300"),
            ("http://127.0.0.1:3300".into(), "".into(), "/graphql".into())
        );
        assert_eq!(
            paths("http://127.0.0.1:3300/github"),
            (
                "http://127.0.0.1:3300".into(),
                "/github".into(),
                "/github/graphql".into()
            )
        );
    }

    #[test]
    fn urls_that_cannot_be_an_api_root_are_refused() {
        for url in [
            "api.github.com",
            "ftp://api.github.com",
            "https://api.github.com/?x=1",
            "https://api.github.com/#top",
            "",
        ] {
            assert!(Endpoints::of(url).is_err(), "{url}");
        }
    }
}
