//! Test-only helpers, compiled with the `testing` feature that only the test crates enable:
//! no Lambda binary carries them.

pub mod fault;
