//! Tidings: webhook delivery for commerce platforms.
//!
//! The library behind every entry point: the Lambda functions in `functions/` and the local
//! runner in `local/` only build clients and hand over to what lives here.
//!
//! - [`domain`]: the rules, as types that refuse bad values (no I/O).
//! - [`services`]: the use cases, one module per resource (events, subscriptions, event
//!   types, API keys, deliveries and replay, dispatch).
//! - [`ports`]: the storage and queue traits the use cases call, bundled in [`Backend`].
//! - [`adapters`]: DynamoDB, SQS and in-memory implementations of the ports, and the one
//!   place that builds a [`Backend`] from the environment.
//! - [`http`]: the axum routers (handlers with their request and response types, and the
//!   OpenAPI document), served by Lambda and by the local runner.
//! - [`signing`]: every signature a delivery carries, and `verify` for receivers.
//! - [`egress`]: which addresses deliveries may reach, enforced where the client resolves.
//! - [`tls`]: which certificate authorities the HTTPS clients trust.
//! - [`config`], [`ids`], [`telemetry`], [`metrics`]: settings, identifiers, logging, and
//!   metrics as CloudWatch Embedded Metric Format lines.
//! - `testing` (feature `testing`, tests only): failures on cue around any backend.

pub mod adapters;
pub mod config;
pub mod domain;
pub mod egress;
pub mod http;
pub mod ids;
pub mod metrics;
pub mod ports;
pub mod services;
pub mod signing;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;

pub use config::Config;
pub use ports::Backend;
