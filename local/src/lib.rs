//! The local runner as a library: the binary in `main.rs` and the end-to-end tests start
//! Tidings through [`start`].

mod poller;
mod runner;
pub mod status;

pub use poller::{Pollers, spawn as spawn_pollers};
pub use runner::{DEV_TENANT, Options, Running, StartError, Storage, VISIBILITY_TIMEOUT, start};
