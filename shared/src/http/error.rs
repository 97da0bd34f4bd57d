//! Errors as `application/problem+json` (RFC 9457), mapped to HTTP in this one place.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use thiserror::Error;
use utoipa::ToSchema;

use crate::domain::ValidationError;
use crate::ports::store::StoreError;
use crate::services::ServiceError;
use crate::services::events::IngestError;

/// The body of every error answer, as `application/problem+json` (RFC 9457).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:tidings:problem:validation",
    "title": "Invalid request",
    "status": 422,
    "detail": "url: must be an absolute URL (relative URL without a base)",
    "field": "url"
}))]
pub struct Problem {
    /// `urn:tidings:problem:` and a slug: `unauthorized`, `forbidden`, `not-found`,
    /// `validation`, `conflict`, `payload-too-large`, `unsupported-media-type`,
    /// `malformed-request`, `unavailable` or `internal`.
    #[serde(rename = "type")]
    #[schema(example = "urn:tidings:problem:validation")]
    pub problem_type: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    /// What went wrong with this request, in words.
    pub detail: String,
    /// The request field at fault (`url`, `events[1]`, `type`…), on validation problems only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, Error)]
pub enum ApiError {
    #[error("a valid API key is required: send 'Authorization: Bearer <key>'")]
    Unauthorized,
    #[error("this API key's role may not {0}")]
    Forbidden(&'static str),
    #[error("no {0} with this id")]
    NotFound(&'static str),
    #[error("{0}")]
    Validation(#[from] ValidationError),
    #[error("{0}")]
    Conflict(String),
    #[error("{detail}")]
    Rejected { status: StatusCode, detail: String },
    #[error("{0}")]
    Unavailable(String),
    /// Stored data that cannot be read: retrying does not help, an operator must look.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Self::Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid request",
            ),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            Self::Rejected { status, .. } => match *status {
                StatusCode::PAYLOAD_TOO_LARGE => {
                    (*status, "payload-too-large", "Payload too large")
                }
                StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                    (*status, "unsupported-media-type", "Unsupported media type")
                }
                // Well-formed JSON of the wrong shape: a missing, unknown or mistyped field.
                StatusCode::UNPROCESSABLE_ENTITY => (*status, "validation", "Invalid request"),
                _ => (
                    StatusCode::BAD_REQUEST,
                    "malformed-request",
                    "Malformed request",
                ),
            },
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Temporarily unavailable",
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }
}

impl ApiError {
    /// The problem details of this error (logged when it is the server's).
    pub fn problem(&self) -> Problem {
        let (status, slug, title) = self.parts();
        if status.is_server_error() {
            tracing::error!(detail = %self, "request failed");
        }
        Problem {
            problem_type: format!("urn:tidings:problem:{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
            field: match self {
                Self::Validation(e) => Some(e.field.clone()),
                _ => None,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.problem();
        let status = StatusCode::from_u16(body.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let detail = match status {
            StatusCode::PAYLOAD_TOO_LARGE => {
                "body: is larger than this endpoint accepts".to_owned()
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                "content-type: must be application/json".to_owned()
            }
            _ => format!("body: {}", rejection.body_text()),
        };
        Self::Rejected { status, detail }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::Rejected {
            status: StatusCode::BAD_REQUEST,
            detail: format!("query: {}", rejection.body_text()),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Invalid(e) => Self::Validation(e),
            ServiceError::NotFound(what) => Self::NotFound(what),
            ServiceError::Conflict(detail) => Self::Conflict(detail),
            ServiceError::Store(e) => e.into(),
            ServiceError::Ingest(e) => e.into(),
            ServiceError::Queue(e) => {
                Self::Unavailable(format!("the queue is unavailable ({e}); retry"))
            }
            ServiceError::Internal(detail) => Self::Internal(detail),
        }
    }
}

impl From<StoreError> for ApiError {
    /// Only an outage invites a retry: a refused conditional write is a conflict, and data
    /// that cannot be read stays unreadable however often it is asked for.
    fn from(error: StoreError) -> Self {
        Self::from_store(error, "retry the request")
    }
}

impl ApiError {
    fn from_store(error: StoreError, retry_hint: &str) -> Self {
        match error {
            StoreError::Unavailable(_) => {
                Self::Unavailable(format!("storage is unavailable ({error}); {retry_hint}"))
            }
            StoreError::Conflict => Self::Conflict(
                "the item was changed or created by another request at the same time; read it \
                 again before changing it"
                    .to_owned(),
            ),
            StoreError::Corrupt(detail) => {
                tracing::error!(%detail, "stored data cannot be read");
                Self::Internal(
                    "stored data for this request cannot be read; the operators have been \
                     told (retrying will not help)"
                        .to_owned(),
                )
            }
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(error: IngestError) -> Self {
        match error {
            IngestError::Invalid(e) => Self::Validation(e),
            IngestError::IdReused(_) => Self::Conflict(error.to_string()),
            IngestError::Store(e) => Self::from_store(
                e,
                "the event was not accepted; retry with the same event id",
            ),
            IngestError::Queue(e) => Self::Unavailable(format!(
                "the event was not fully enqueued ({e}); retry with the same event id"
            )),
        }
    }
}

pub(super) async fn not_found() -> ApiError {
    ApiError::NotFound("route")
}
