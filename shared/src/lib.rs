//! Tidings: webhook delivery for commerce platforms.
//!
//! The library behind every entry point: the Lambda functions in `functions/` and the local
//! runner in `local/` only build clients and hand over to what lives here.
//!
//! - [`domain`]: events, subscriptions, API keys and deliveries, as types that refuse bad values.
//! - [`signing`]: Standard Webhooks signatures (and the seeds' hex scheme), with `verify` for receivers.
//! - [`store`] and [`queue`]: the ports, each with an in-memory and an AWS adapter.
//! - [`ingest`] and [`dispatch`]: accepting events and delivering them.
//! - [`manage`] and [`deliveries`]: managing subscriptions, event types and keys; looking
//!   up, replaying and redriving deliveries.
//! - [`http`]: the axum routers served by Lambda and by the local runner.
//! - [`fault`]: failures on cue around any backend, for tests.

pub mod aws;
pub mod backend;
pub mod config;
pub mod deliveries;
pub mod dispatch;
pub mod domain;
pub mod egress;
pub mod fault;
pub mod http;
pub mod ids;
pub mod ingest;
pub mod local;
pub mod manage;
pub mod poller;
pub mod queue;
pub mod retry;
pub mod signing;
pub mod store;
pub mod telemetry;

pub use backend::Backend;
pub use config::Config;
