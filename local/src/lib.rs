//! The local runner as a library: the binary in `main.rs` and the end-to-end tests start
//! Tidings through [`start`].

mod poller;
mod runner;
pub mod status;

pub use poller::poll_once;
pub use runner::{DEV_TENANT, Options, Running, StartError, Storage, VISIBILITY_TIMEOUT, start};
