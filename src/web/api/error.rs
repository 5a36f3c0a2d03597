//! How the API says no: a status and `{"error": "…"}`, the same shape for every refusal, so a
//! script reads one field whatever went wrong.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A refused or failed API request.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

/// Every refusal's body.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "Error")]
pub struct Body<'a> {
    /// What was wrong, in a sentence.
    pub error: &'a str,
}

impl ApiError {
    /// 400: a parameter ade cannot read; the message names it.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// 401: no token, or one that does not work (unknown, expired, revoked).
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: message.into(),
        }
    }

    /// 404: nothing there (or nothing the caller may know is there).
    pub fn not_found() -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: "not found".into(),
        }
    }

    /// 405: a method the route does not take.
    pub fn method_not_allowed() -> ApiError {
        ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            message: "this route does not take that method".into(),
        }
    }

    /// 503: the forge could not say whether the caller may read this; nothing is shown.
    pub fn forge_unsure() -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "the forge could not say whether you may read this; try again shortly".into(),
        }
    }

    /// 500: ade failed; the details go to ade's log, not to the caller.
    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!(%error, "an API request failed");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "ade could not answer; its log says why".into(),
        }
    }

    /// What it says.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The status it answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> ApiError {
        ApiError::internal(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(Body {
                error: &self.message,
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ade\""),
            );
        }
        response
    }
}
