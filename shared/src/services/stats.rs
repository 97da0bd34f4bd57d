//! Endpoint stats, read from the delivery records Tidings already keeps: no counter is
//! written on the delivery path, so they cost nothing per delivery; a stats call reads the
//! subscription's deliveries of the last 7 days (at most [`MAX_DELIVERIES`] of them).

use chrono::Utc;

use super::ServiceError;
use super::deliveries::{self, ListDeliveries};
use crate::Backend;
use crate::domain::{EndpointStats, TenantId};

/// The most delivery records one stats call reads, newest first.
pub const MAX_DELIVERIES: usize = 10_000;

/// The subscription's stats now; `truncated` when it had more deliveries in the last 7
/// days than one call reads.
pub async fn endpoint(
    backend: &Backend,
    tenant: &TenantId,
    subscription: &str,
) -> Result<(EndpointStats, bool), ServiceError> {
    let now = Utc::now();
    let mut attempts = Vec::new();
    let mut read = 0;
    let mut cursor = None;
    loop {
        let query = ListDeliveries {
            limit: Some(100),
            cursor,
            since: Some(now - EndpointStats::REACH),
            ..ListDeliveries::default()
        };
        let (page, next) = deliveries::list(backend, tenant, subscription, query).await?;
        read += page.len();
        attempts.extend(page.into_iter().flat_map(|d| d.recent_attempts));
        match next {
            Some(next) if read < MAX_DELIVERIES => cursor = Some(next),
            next => return Ok((EndpointStats::from_attempts(&attempts, now), next.is_some())),
        }
    }
}
