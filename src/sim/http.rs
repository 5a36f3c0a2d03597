//! What both dialects' routes share: error answers in the forge's shape, credential checks,
//! JSON bodies, and pagination with `Link` headers.

use super::actions::ActionError;
use super::core::{Caller, Sim};
use super::state::Repo;
use crate::forge::{ForgeKind, Permission};
use axum::body::Bytes;
use axum::extract::FromRequest;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::de::DeserializeOwned;
use serde_json::json;

/// A repository path as it stands in a URL the forges write (`docs/read%20me.md`): each segment
/// percent-encoded but for RFC 3986's unreserved characters, the slashes kept.
pub fn escape_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A value as it stands in a URL's query (`?ref=`), form-encoded.
pub fn escape_query(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// An error answer: GitHub's `{message, documentation_url, status}` (no `status` on 405, 409
/// and 422, as documented) or Gitea's `{message, url}`.
#[derive(Debug)]
pub struct ApiError {
    kind: ForgeKind,
    base_url: String,
    status: StatusCode,
    message: String,
    headers: Vec<(&'static str, String)>,
}

impl ApiError {
    /// An error with this status and message in the simulator's dialect.
    pub fn new(sim: &Sim, status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            kind: sim.kind,
            base_url: sim.base_url.clone(),
            status,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// 404 as the forge words it.
    pub fn not_found(sim: &Sim) -> ApiError {
        let message = match sim.kind {
            ForgeKind::Github => "Not Found",
            ForgeKind::Gitea => "The target couldn't be found.",
        };
        ApiError::new(sim, StatusCode::NOT_FOUND, message)
    }

    /// Adds a header to the answer.
    pub fn with_header(mut self, name: &'static str, value: String) -> ApiError {
        self.headers.push((name, value));
        self
    }

    /// The answer for a refused action.
    pub fn from_action(sim: &Sim, err: ActionError) -> ApiError {
        let status = err.status();
        ApiError::new(sim, status, err.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.kind {
            // GitHub's descriptions give `status` to its `basic-error`, but not to the
            // validation error (422) or the merge refusals (405, 409).
            ForgeKind::Github if matches!(self.status.as_u16(), 405 | 409 | 422) => json!({
                "message": self.message,
                "documentation_url": "https://docs.github.com/rest",
            }),
            ForgeKind::Github => json!({
                "message": self.message,
                "documentation_url": "https://docs.github.com/rest",
                "status": self.status.as_u16().to_string(),
            }),
            ForgeKind::Gitea => json!({
                "message": self.message,
                "url": format!("{}/api/swagger", self.base_url),
            }),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// A route's result.
pub type ApiResult<T = Response> = Result<T, ApiError>;

/// Reads a JSON request body; GitHub answers 400 "Problems parsing JSON", Gitea 422.
pub fn parse_json<T: DeserializeOwned>(sim: &Sim, body: &[u8]) -> ApiResult<T> {
    let body = if body.is_empty() { &b"{}"[..] } else { body };
    serde_json::from_slice(body).map_err(|err| match sim.kind {
        ForgeKind::Github => ApiError::new(
            sim,
            StatusCode::BAD_REQUEST,
            format!("Problems parsing JSON: {err}"),
        ),
        ForgeKind::Gitea => ApiError::new(sim, StatusCode::UNPROCESSABLE_ENTITY, err.to_string()),
    })
}

/// A request's JSON body, read as the simulated forge reads one ([`parse_json`]). It is read
/// after the route's other extractors (the caller, the path), as a route that parses its body
/// first would.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<std::sync::Arc<Sim>> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(
        request: axum::extract::Request,
        sim: &std::sync::Arc<Sim>,
    ) -> Result<Self, Response> {
        let body = Bytes::from_request(request, sim)
            .await
            .map_err(IntoResponse::into_response)?;
        parse_json(sim, &body)
            .map(JsonBody)
            .map_err(IntoResponse::into_response)
    }
}

/// The credentials a request carries: `Authorization: token|Bearer <t>`, basic auth with the token
/// as password, or (Gitea) `?token=` / `?access_token=`.
pub fn presented_token(
    headers: &HeaderMap,
    query: Option<&str>,
) -> Option<(Option<String>, String)> {
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, rest) = value.trim().split_once(' ')?;
        let rest = rest.trim().to_owned();
        return match scheme.to_ascii_lowercase().as_str() {
            "token" | "bearer" => Some((None, rest)),
            "basic" => {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(rest)
                    .ok()?;
                let text = String::from_utf8(decoded).ok()?;
                let (user, password) = text.split_once(':')?;
                Some((Some(user.to_owned()), password.to_owned()))
            }
            _ => None,
        };
    }
    let query = query?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "token" || k == "access_token")
        .map(|(_, v)| (None, v.into_owned()))
}

/// Who is calling, or 401 for credentials the forge does not know (or an expired token).
pub fn authenticate(sim: &Sim, headers: &HeaderMap, query: Option<&str>) -> ApiResult<Caller> {
    let bad = || match sim.kind {
        ForgeKind::Github => ApiError::new(sim, StatusCode::UNAUTHORIZED, "Bad credentials"),
        ForgeKind::Gitea => ApiError::new(
            sim,
            StatusCode::UNAUTHORIZED,
            "user does not exist [uid: 0, name: ]",
        ),
    };
    let Some((_, token)) = presented_token(headers, query) else {
        if headers.contains_key(header::AUTHORIZATION) {
            return Err(bad());
        }
        return Ok(Caller::Anonymous);
    };
    caller_for_token(sim, &token).ok_or_else(bad)
}

/// The caller a token stands for: an app JWT (GitHub), a live installation token, or a user's
/// own token. Expired and revoked installation tokens stand for nobody.
pub fn caller_for_token(sim: &Sim, token: &str) -> Option<Caller> {
    if sim.kind == ForgeKind::Github && token.split('.').count() == 3 {
        let now = sim.now() / 1000;
        return sim
            .app
            .key
            .verify_jwt(token, sim.app.id, now)
            .ok()
            .map(|()| Caller::App);
    }
    let state = sim.state();
    if let Some(issued) = state.installation_tokens.get(token) {
        return (issued.expires_at > sim.now() && !issued.revoked).then(|| Caller::Installation {
            id: issued.installation_id,
            scope: issued.scope.clone(),
        });
    }
    state.user_by_token(token).map(|u| Caller::User {
        login: u.login.clone(),
    })
}

/// The repository if the caller may see it; 404 otherwise, as both forges hide what a caller
/// may not read.
pub fn readable_repo(sim: &Sim, caller: &Caller, owner: &str, name: &str) -> ApiResult<Repo> {
    let repo = sim
        .repo(owner, name)
        .ok_or_else(|| ApiError::not_found(sim))?;
    if sim.access(caller, &repo) < Permission::Read {
        return Err(ApiError::not_found(sim));
    }
    Ok(repo)
}

/// The repository if the caller has at least `needed` on it: 404 if they cannot see it, 403 if
/// they can but not enough.
pub fn repo_with(
    sim: &Sim,
    caller: &Caller,
    owner: &str,
    name: &str,
    needed: Permission,
) -> ApiResult<Repo> {
    let repo = readable_repo(sim, caller, owner, name)?;
    if sim.access(caller, &repo) < needed {
        let message = match (sim.kind, caller) {
            (ForgeKind::Github, Caller::Installation { .. }) => {
                "Resource not accessible by integration"
            }
            (ForgeKind::Github, _) => "Must have push access to this repository",
            (ForgeKind::Gitea, _) => "user should have a permission to write to the repository",
        };
        return Err(ApiError::new(sim, StatusCode::FORBIDDEN, message));
    }
    Ok(repo)
}

/// The login a writing caller acts as; 401 for anonymous callers and bare app JWTs.
pub fn acting_login(sim: &Sim, caller: &Caller) -> ApiResult<String> {
    sim.login_of(caller).ok_or_else(|| match sim.kind {
        ForgeKind::Github => {
            ApiError::new(sim, StatusCode::UNAUTHORIZED, "Requires authentication")
        }
        ForgeKind::Gitea => ApiError::new(sim, StatusCode::UNAUTHORIZED, "token is required"),
    })
}

/// A page request: which page (from 1) and how many per page.
#[derive(Clone, Copy, Debug)]
pub struct PageRequest {
    /// Page number, from 1.
    pub page: usize,
    /// Items per page.
    pub per_page: usize,
}

impl PageRequest {
    /// Reads `page` and `per_page` (GitHub: default 30, at most 100) or `limit` (Gitea: default
    /// `default`, at most 50).
    pub fn from_query(kind: ForgeKind, query: Option<&str>, default: usize) -> PageRequest {
        let mut page = 1;
        let mut per_page = default;
        let size_key = match kind {
            ForgeKind::Github => "per_page",
            ForgeKind::Gitea => "limit",
        };
        let max = match kind {
            ForgeKind::Github => 100,
            ForgeKind::Gitea => 50,
        };
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            if key == "page" {
                page = value.parse().unwrap_or(1).max(1);
            } else if key == size_key {
                per_page = value.parse().unwrap_or(default).clamp(1, max);
            }
        }
        PageRequest { page, per_page }
    }
}

/// The `Link` header for page `page` of `total` items, pointing at `url` with the other query
/// parameters kept: `next`/`last` while there are more, `prev`/`first` after the first.
pub fn link_header(
    kind: ForgeKind,
    url: &str,
    query: Option<&str>,
    request: PageRequest,
    total: usize,
) -> Option<String> {
    let last = total.div_ceil(request.per_page).max(1);
    let size_key = match kind {
        ForgeKind::Github => "per_page",
        ForgeKind::Gitea => "limit",
    };
    let kept: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, _)| k != "page" && k != size_key)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let link = |page: usize, rel: &str| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &kept {
            query.append_pair(k, v);
        }
        query.append_pair(size_key, &request.per_page.to_string());
        query.append_pair("page", &page.to_string());
        format!("<{url}?{}>; rel=\"{rel}\"", query.finish())
    };
    let mut links = Vec::new();
    if request.page < last {
        links.push(link(request.page + 1, "next"));
        links.push(link(last, "last"));
    }
    if request.page > 1 {
        links.push(link(1, "first"));
        links.push(link((request.page - 1).min(last), "prev"));
    }
    (!links.is_empty()).then(|| links.join(", "))
}

/// A JSON answer for one page of a list, with `Link` (and Gitea's `X-Total-Count`).
pub fn paged_json(
    sim: &Sim,
    path: &str,
    query: Option<&str>,
    request: PageRequest,
    items: Vec<serde_json::Value>,
) -> Response {
    let total = items.len();
    let page = super::state::page(&items, request.page, request.per_page);
    let mut response = axum::Json(page).into_response();
    let url = format!("{}{path}", sim.base_url);
    if let Some(link) = link_header(sim.kind, &url, query, request, total)
        && let Ok(value) = HeaderValue::from_str(&link)
    {
        response.headers_mut().insert(header::LINK, value);
    }
    if sim.kind == ForgeKind::Gitea {
        response
            .headers_mut()
            .insert("x-total-count", HeaderValue::from(total));
    }
    response
}

/// What every API route starts from: the simulator, the authenticated caller, the raw query and
/// the path. Extracting it checks the credentials, so a route never sees an unchecked caller.
pub struct Ctx {
    /// The simulator.
    pub sim: std::sync::Arc<Sim>,
    /// Who is calling.
    pub caller: Caller,
    /// The raw query string.
    pub query: Option<String>,
    /// The request path.
    pub path: String,
}

impl Ctx {
    /// One query parameter.
    pub fn param(&self, key: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_deref().unwrap_or("").as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }

    /// The page asked for.
    pub fn page(&self, default: usize) -> PageRequest {
        PageRequest::from_query(self.sim.kind, self.query.as_deref(), default)
    }

    /// One page of `items` as the answer.
    pub fn paged(&self, default: usize, items: Vec<serde_json::Value>) -> Response {
        paged_json(
            &self.sim,
            &self.path,
            self.query.as_deref(),
            self.page(default),
            items,
        )
    }

    /// The repository if readable.
    pub fn readable(&self, owner: &str, name: &str) -> ApiResult<Repo> {
        readable_repo(&self.sim, &self.caller, owner, name)
    }

    /// The repository if the caller has `needed` on it.
    pub fn with(&self, owner: &str, name: &str, needed: Permission) -> ApiResult<Repo> {
        repo_with(&self.sim, &self.caller, owner, name, needed)
    }

    /// The login the caller acts as.
    pub fn login(&self) -> ApiResult<String> {
        acting_login(&self.sim, &self.caller)
    }

    /// An error in the simulator's dialect.
    pub fn error(&self, status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError::new(&self.sim, status, message)
    }

    /// 404.
    pub fn not_found(&self) -> ApiError {
        ApiError::not_found(&self.sim)
    }

    /// The answer for a refused action.
    pub fn refused(&self, err: ActionError) -> ApiError {
        ApiError::from_action(&self.sim, err)
    }
}

impl axum::extract::FromRequestParts<std::sync::Arc<Sim>> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        sim: &std::sync::Arc<Sim>,
    ) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().map(str::to_owned);
        let caller = authenticate(sim, &parts.headers, query.as_deref())?;
        if let Caller::Installation { scope, .. } = &caller {
            super::github::scopes::check(sim, scope, &parts.method, parts.uri.path())?;
        }
        Ok(Ctx {
            sim: std::sync::Arc::clone(sim),
            caller,
            query,
            path: parts.uri.path().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_in_links_are_escaped_but_keep_their_slashes() {
        assert_eq!(escape_path("docs/read me.md"), "docs/read%20me.md");
        assert_eq!(escape_path("src/ünï.rs"), "src/%C3%BCn%C3%AF.rs");
        assert_eq!(escape_path("a/b-c_d.e~f"), "a/b-c_d.e~f");
        assert_eq!(escape_path("what?#x"), "what%3F%23x");
        assert_eq!(escape_query("feature/a b&c"), "feature%2Fa+b%26c");
    }

    #[test]
    fn link_header_names_next_last_first_prev() {
        let request = PageRequest {
            page: 2,
            per_page: 10,
        };
        let link = link_header(
            ForgeKind::Github,
            "http://sim/repos/o/r/issues/1/comments",
            Some("per_page=10&page=2&since=x"),
            request,
            35,
        )
        .unwrap();
        assert!(
            link.contains(
                "<http://sim/repos/o/r/issues/1/comments?since=x&per_page=10&page=3>; rel=\"next\""
            ),
            "{link}"
        );
        assert!(link.contains("page=4>; rel=\"last\""), "{link}");
        assert!(link.contains("page=1>; rel=\"first\""), "{link}");
        assert!(link.contains("page=1>; rel=\"prev\""), "{link}");
        let only = PageRequest {
            page: 1,
            per_page: 30,
        };
        assert_eq!(link_header(ForgeKind::Github, "u", None, only, 30), None);
    }
}
