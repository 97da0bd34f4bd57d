//! The use cases, one module per resource, as functions over the ports. The HTTP handlers,
//! the Lambda functions and the CLI call these; none of them touches a port directly.

pub mod api_keys;
pub mod deliveries;
pub mod dispatch;
mod error;
pub mod event_types;
pub mod events;
pub mod filters;
mod paging;
pub mod signing_keys;
pub mod stats;
pub mod subscriptions;
pub mod tenants;

pub use error::ServiceError;
pub use paging::PageLimit;
