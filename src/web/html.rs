//! The dashboard's HTML: pages rendered on the server from templates/web/, every value escaped
//! for HTML by the template engine (user and agent text only ever arrives as values), and the
//! one stylesheet, all carried in the binary. Reading needs no JavaScript.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{AutoEscape, Environment, Value};
use std::sync::OnceLock;

/// The pages, by name, as the binary carries them.
const PAGES: &[(&str, &str)] = &[
    (
        "layout.html",
        include_str!("../../templates/web/layout.html"),
    ),
    ("board.html", include_str!("../../templates/web/board.html")),
    ("goal.html", include_str!("../../templates/web/goal.html")),
    ("run.html", include_str!("../../templates/web/run.html")),
    (
        "signin.html",
        include_str!("../../templates/web/signin.html"),
    ),
    (
        "message.html",
        include_str!("../../templates/web/message.html"),
    ),
];

/// The stylesheet, served at [`STYLESHEET`].
pub const CSS: &str = include_str!("../../assets/ade.css");

/// Where pages link the stylesheet; the version in the query lets browsers cache it for good.
pub const STYLESHEET: &str = concat!("/assets/ade.css?v=", env!("CARGO_PKG_VERSION"));

/// htmx and its server-sent events extension (both 0BSD), vendored from npm; their licenses are
/// [`LICENSES`], served at `/assets/LICENSES.txt`.
pub const HTMX: &str = include_str!("../../assets/vendor/htmx.min.js");

/// htmx's server-sent events extension.
pub const HTMX_SSE: &str = include_str!("../../assets/vendor/htmx-ext-sse.js");

/// The vendored scripts' licenses.
pub const LICENSES: &str = include_str!("../../assets/vendor/LICENSES.txt");

/// Where pages load htmx from.
pub const HTMX_PATH: &str = concat!("/assets/htmx.min.js?v=", env!("CARGO_PKG_VERSION"));

/// Where pages load the extension from.
pub const HTMX_SSE_PATH: &str = concat!("/assets/htmx-ext-sse.js?v=", env!("CARGO_PKG_VERSION"));

fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_formatter(format_value);
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .expect("the default delimiters are valid"),
        );
        env.add_filter("time", |ms: i64| crate::clock::rfc3339(ms));
        env.add_filter("short", |sha: String| {
            sha.chars().take(12).collect::<String>()
        });
        env.add_global("stylesheet", STYLESHEET);
        env.add_global("htmx", HTMX_PATH);
        env.add_global("htmx_sse", HTMX_SSE_PATH);
        for (name, source) in PAGES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("page {name} does not compile: {e}"));
        }
        env
    })
}

/// Writes a value into a page: nothing for none, and the five characters HTML gives meaning
/// escaped (`/` stays as it is, so that paths and addresses read as themselves).
fn format_value(
    out: &mut minijinja::Output<'_>,
    _state: &mut minijinja::State<'_, '_>,
    value: &Value,
) -> Result<(), minijinja::Error> {
    if value.is_undefined() || value.is_none() {
        return Ok(());
    }
    if value.is_safe() {
        return write!(out, "{value}").map_err(minijinja::Error::from);
    }
    let text = match value.as_str() {
        Some(text) => escape(text),
        None => escape(&value.to_string()),
    };
    out.write_str(&text).map_err(minijinja::Error::from)
}

/// `text` with the five characters HTML gives meaning escaped, for HTML ade writes itself.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders page `name` with `context` as a 200 answer; a page that does not render is ade's bug,
/// answered 500 and logged.
pub fn page(name: &str, context: impl serde::Serialize) -> Response {
    page_with(StatusCode::OK, name, context)
}

/// [`page`] with another status.
pub fn page_with(status: StatusCode, name: &str, context: impl serde::Serialize) -> Response {
    let rendered = environment()
        .get_template(name)
        .and_then(|template| template.render(Value::from(minijinja::value::Serde(&context))));
    match rendered {
        Ok(html) => (
            status,
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::X_FRAME_OPTIONS, "DENY"),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
                     base-uri 'none'",
                ),
                (header::REFERRER_POLICY, "same-origin"),
            ],
            Html(html),
        )
            .into_response(),
        Err(error) => {
            tracing::error!(page = name, %error, "a dashboard page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "this page could not be drawn; the error is in ade's log\n",
            )
                .into_response()
        }
    }
}

/// A page that says one thing: an error, or a notice with a way on.
pub fn message(status: StatusCode, title: &str, text: &str) -> Response {
    page_with(
        status,
        "message.html",
        serde_json::json!({ "title": title, "text": text }),
    )
}

/// `GET /assets/{name}`: the stylesheet, the vendored scripts and their licenses.
pub async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let (kind, body) = match name.as_str() {
        "ade.css" => ("text/css; charset=utf-8", CSS),
        "htmx.min.js" => ("text/javascript; charset=utf-8", HTMX),
        "htmx-ext-sse.js" => ("text/javascript; charset=utf-8", HTMX_SSE),
        "LICENSES.txt" => ("text/plain; charset=utf-8", LICENSES),
        _ => return (StatusCode::NOT_FOUND, "not found\n").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_in_templates_web_is_carried_and_compiles() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates/web");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("templates/web/ is readable")
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut carried: Vec<String> = PAGES.iter().map(|(name, _)| name.to_string()).collect();
        carried.sort();
        assert_eq!(files, carried);
        environment();
    }

    #[test]
    fn text_reaches_a_page_escaped() {
        let response = message(StatusCode::OK, "<b>t</b>", "<script>alert(1)</script>");
        let body = futures_body(response);
        assert!(!body.contains("<script>alert"), "{body}");
        assert!(
            body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{body}"
        );
        assert!(body.contains("&lt;b&gt;t&lt;/b&gt;"), "{body}");
    }

    fn futures_body(response: Response) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            String::from_utf8(bytes.to_vec()).unwrap()
        })
    }
}
