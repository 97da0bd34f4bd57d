//! Decides, at build time, which halves of the suite run rather than show as ignored:
//!
//! - `cfg(moto)`: the moto variants of `on_both_backends!` run. Set when
//!   `TIDINGS_TEST_AWS_ENDPOINT` is (scripts/test sets it), and always under `CI=true`, where
//!   a missing endpoint must fail the run, not skip it.
//! - `cfg(python)`: the official Standard Webhooks library verifies signatures. Set when
//!   `TIDINGS_TEST_PYTHON` is, and always under `CI=true`.
//!
//! Without them a plain `cargo test` lists those tests as ignored, with the reason.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(moto)");
    println!("cargo::rustc-check-cfg=cfg(python)");
    println!("cargo::rerun-if-env-changed=TIDINGS_TEST_AWS_ENDPOINT");
    println!("cargo::rerun-if-env-changed=TIDINGS_TEST_PYTHON");
    println!("cargo::rerun-if-env-changed=CI");
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty());
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if ci || set("TIDINGS_TEST_AWS_ENDPOINT") {
        println!("cargo::rustc-cfg=moto");
    }
    if ci || set("TIDINGS_TEST_PYTHON") {
        println!("cargo::rustc-cfg=python");
    }
}
