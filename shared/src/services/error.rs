//! What a use case can answer besides success; `crate::http` maps it to a status once.

use thiserror::Error;

use super::events::IngestError;
use crate::domain::ValidationError;
use crate::ports::queue::QueueError;
use crate::ports::store::StoreError;

#[derive(Debug, Error)]
pub enum ServiceError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("no {0} with this id")]
    NotFound(&'static str),
    /// The request contradicts the current state (a name already taken, the last admin key…).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// Something that is no fault of the request and that a retry will not mend (the crypto
    /// library failing to make a key).
    #[error("{0}")]
    Internal(String),
}
