//! The OpenAPI 3.1 document of the HTTP API, generated from the handlers' annotations and
//! served at `GET /v1/openapi.json` from `openapi.json` at the repository root, a checked-in
//! copy that `tests/openapi.rs` fails on when the two differ.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::problems::ProblemResponses;
use super::{
    AppState, Problem, api_keys, deliveries, event_types, events, filters, jwks, operational,
    subscriptions, tenant,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tidings",
        version = env!("CARGO_PKG_VERSION"),
        description = "Webhook delivery: post events, and Tidings signs and delivers them to the subscribed endpoints, with retries.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    paths(
        events::post_event,
        events::post_batch,
        subscriptions::list,
        subscriptions::create,
        subscriptions::fetch,
        subscriptions::update,
        subscriptions::remove,
        subscriptions::secret,
        subscriptions::rotate,
        subscriptions::public_key,
        subscriptions::rotate_key,
        subscriptions::test,
        filters::test_subscription,
        filters::test,
        event_types::list,
        event_types::register,
        api_keys::list,
        api_keys::create,
        api_keys::revoke,
        deliveries::list,
        deliveries::fetch,
        deliveries::retry,
        deliveries::event,
        deliveries::recover,
        deliveries::dead_letters,
        deliveries::redrive,
        deliveries::stats,
        tenant::fetch,
        tenant::update,
        jwks::jwks,
        openapi_json,
    ),
    // Named here because `rotate` and `rotate_key` refer to them by `ref` (to keep their
    // bodies optional), and `Problem` because only `ProblemResponses` refers to it.
    components(schemas(
        subscriptions::RotateSecret,
        subscriptions::RotateSigningKey,
        Problem,
        operational::DeliveryEventData,
        operational::SubscriptionEventData
    )),
    modifiers(&BearerAuth, &ProblemResponses),
    tags(
        (name = "events", description = "Posting events (admin or ingest keys)"),
        (name = "subscriptions", description = "Endpoints that receive events (admin keys)"),
        (name = "event-types", description = "The catalog and the tenant's own event types (admin keys)"),
        (name = "api-keys", description = "The tenant's API keys (admin keys)"),
        (name = "tenant", description = "The tenant's own settings (admin keys)"),
        (name = "deliveries", description = "Deliveries, their attempts, replay and the dead-letter queue (admin keys)"),
        (name = "meta", description = "This document"),
    )
)]
struct ApiDoc;

/// The `bearer` security scheme the operations name: `Authorization: Bearer <API key>`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("tdk_…")
                    .description(Some(
                        "An API key (`tdk_…`) of one tenant, with role `admin` or `ingest`.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document of every route the routers serve.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/v1/openapi.json", get(openapi_json))
}

/// Get the OpenAPI document
///
/// This document, as JSON. No API key needed.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    operation_id = "getOpenApi",
    tag = "meta",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document", body = Object, content_type = "application/json"),
    )
)]
async fn openapi_json() -> impl IntoResponse {
    // The checked-in copy, compiled in (minified by build.rs), rather than `openapi()`
    // serialized at run time: `tests/openapi.rs` fails when the two differ, and the functions
    // then carry none of the code that builds the document (README, "Lambda cold start and
    // bootstrap size"). After `UPDATE_OPENAPI=1`, the next build serves the new file.
    const DOCUMENT: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.min.json"));
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}
