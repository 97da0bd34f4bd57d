//! The data of Tidings' own operational events, for the OpenAPI document: what a
//! subscription naming `delivery.*` or `subscription.*` receives in `data`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// The `data` of `delivery.failing` (sent once, after `TIDINGS_DELIVERY_FAILING_AFTER`
/// failed attempts in a row, default 4), `delivery.exhausted` (the delivery was
/// dead-lettered) and `delivery.recovered` (its first success after failures). Never sent
/// about an operational event's own delivery.
#[allow(dead_code)] // documentation only: the dispatcher writes this shape as JSON
#[derive(Serialize, ToSchema)]
pub(super) struct DeliveryEventData {
    #[schema(example = "dlv_01JD7Y2Q8ZV6M3N4P5R6S7T8U9")]
    delivery_id: String,
    #[schema(example = "sub_01JD7Y2Q8ZV6M3N4P5R6S7T8U9")]
    subscription_id: String,
    event_id: String,
    #[schema(example = "order.created")]
    event_type: String,
    /// Attempts made so far.
    attempts: u32,
    /// The last attempt's answer, if the endpoint answered.
    status_code: Option<u16>,
    last_error: Option<String>,
    /// `delivery.exhausted` only: why it was dead-lettered.
    reason: Option<String>,
}

/// The `data` of `subscription.created`, `subscription.updated` and
/// `subscription.deleted`: the subscription as it is after the change (before it, for a
/// deletion). `subscription.disabled` carries `subscription_id`, `url`, `reason` and
/// `failing_since`.
#[allow(dead_code)] // documentation only: the services write this shape as JSON
#[derive(Serialize, ToSchema)]
pub(super) struct SubscriptionEventData {
    subscription_id: String,
    url: String,
    events: Vec<String>,
    active: bool,
    #[schema(example = "standard")]
    format: String,
    description: Option<String>,
    #[schema(value_type = Option<String>)]
    failing_since: Option<DateTime<Utc>>,
}
