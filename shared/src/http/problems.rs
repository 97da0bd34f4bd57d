//! The problem+json answers of every operation, declared once for the OpenAPI document.
//!
//! Handlers annotate only their success answers. [`ProblemResponses`] adds the rest from
//! rules (a key is needed: 401 and 500; an admin key: 403; a JSON body: 400, 413, 415 and
//! 422; an `{id}` in the path: 404; always 503) and from [`OVERRIDES`], the wording that
//! differs by operation.

use utoipa::Modify;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, ResponseBuilder};

use crate::config::MAX_EVENT_BYTES;

/// Answers whose wording is the operation's own, by operation id.
const OVERRIDES: &[(&str, &[(u16, &str)])] = &[
    (
        "postEvent",
        &[
            (
                409,
                "This event id was already accepted with a different type or data",
            ),
            (422, "A field breaks a rule; `field` names it"),
            (
                503,
                "Storage or queue unavailable; retry with the same event id",
            ),
        ],
    ),
    (
        "listSubscriptions",
        &[
            (400, "A query parameter has the wrong type or is unknown"),
            (422, "`limit`, `cursor` or `event_type` breaks a rule"),
        ],
    ),
    (
        "postEventBatch",
        &[(
            422,
            "`events` is not a list of 1 to 100 events; a single event's problems are in its result",
        )],
    ),
    ("createSubscription", &[(422, FIELD_NAMED)]),
    (
        "getDelivery",
        &[(
            404,
            "No delivery of this tenant with this id, or none attempted yet: a delivery's record is written at its first attempt (its event lists it as `pending` until then)",
        )],
    ),
    ("updateSubscription", &[(422, FIELD_NAMED)]),
    (
        "rotateSubscriptionSecret",
        &[(422, "A field is unknown, mistyped or breaks a rule")],
    ),
    (
        "registerEventType",
        &[(409, "The name is in the catalog or already registered")],
    ),
    (
        "revokeApiKey",
        &[(409, "The key is the tenant's last admin key")],
    ),
    ("listDeliveries", QUERY),
    (
        "retryDelivery",
        &[(409, "The event has expired"), STORAGE_OR_QUEUE],
    ),
    (
        "recoverSubscription",
        &[
            (422, "A field is missing, unknown or mistyped"),
            STORAGE_OR_QUEUE,
        ],
    ),
    (
        "listDeadLetters",
        &[
            (400, "Malformed query"),
            (422, "A parameter breaks a rule"),
            (503, "Queue unavailable; retry"),
        ],
    ),
    ("redriveDeadLetters", &[STORAGE_OR_QUEUE]),
];

const FIELD_NAMED: &str = "A field is missing, unknown or breaks a rule; `field` names it";
const STORAGE_OR_QUEUE: (u16, &str) = (503, "Storage or queue unavailable; retry");
const QUERY: &[(u16, &str)] = &[(400, "Malformed query"), (422, "A parameter breaks a rule")];

/// Adds each operation's problem answers to the document.
pub(super) struct ProblemResponses;

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                add_problems(path, operation);
            }
        }
    }
}

fn add_problems(path: &str, operation: &mut Operation) {
    let id = operation.operation_id.clone().unwrap_or_default();
    if operation.security.is_none() {
        return; // Public: only this document, which has no failure of its own.
    }
    let mut answers: Vec<(u16, String)> = vec![
        (401, "No valid API key".into()),
        (
            500,
            "Stored data cannot be read; retrying does not help".into(),
        ),
        (503, "Storage unavailable; retry".into()),
    ];
    // Posting events is open to ingest keys; everything else needs an admin key.
    if !matches!(path, "/v1/events" | "/v1/events/batch") {
        answers.push((403, "The key is not an admin key".into()));
    }
    if operation.request_body.is_some() {
        let limit = match path {
            "/v1/events" => MAX_EVENT_BYTES,
            "/v1/events/batch" => super::events::MAX_BATCH_BYTES,
            _ => super::MAX_BODY_BYTES,
        };
        answers.extend([
            (400, "The body is not JSON".into()),
            (413, format!("The body is larger than {} KiB", limit / 1024)),
            (415, "The body is not `application/json`".into()),
            (422, "A field is missing, unknown or breaks a rule".into()),
        ]);
    }
    if let Some(resource) = path_resource(path) {
        answers.push((404, format!("No {resource} of this tenant with this id")));
    }
    let overrides = OVERRIDES
        .iter()
        .find(|(op, _)| *op == id)
        .map(|(_, list)| *list)
        .unwrap_or_default();
    for (status, description) in overrides {
        answers.retain(|(s, _)| s != status);
        answers.push((*status, (*description).to_owned()));
    }
    for (status, description) in answers {
        let response = ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build();
        operation
            .responses
            .responses
            .insert(status.to_string(), response.into());
    }
}

/// What the `{id}` of a path names.
fn path_resource(path: &str) -> Option<&'static str> {
    let resources = [
        ("/v1/subscriptions/{id}", "subscription"),
        ("/v1/deliveries/{id}", "delivery"),
        ("/v1/events/{id}", "event"),
        ("/v1/api-keys/{id}", "API key"),
    ];
    resources
        .into_iter()
        .find(|(prefix, _)| path.starts_with(prefix))
        .map(|(_, resource)| resource)
}
