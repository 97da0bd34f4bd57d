//! What the tests share: the harness that runs a test on both backends, the API client,
//! builders of test data, waiting with a deadline, the template's settings, AWS emulator
//! resources, a webhook receiver on 127.0.0.1 that records what it is sent, the seeds' own
//! receiver code run with node, and the independent signature verifiers.

pub mod builders;
pub mod client;
pub mod cost;
pub mod emulator;
pub mod harness;
pub mod meter;
pub mod node_receiver;
pub mod receiver;
pub mod template;
pub mod wait;

use std::path::PathBuf;

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

/// A file of the repository, as text.
pub fn read_repo_file(path: &str) -> String {
    let full = repo_root().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {}: {e}", full.display()))
}

/// Runs a verifier program that reads a JSON array of cases on stdin and prints a JSON
/// array of verdicts.
fn run_verifier(program: &str, script: &str, input: &[serde_json::Value]) -> Vec<bool> {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let mut child = Command::new(program)
        .arg(repo_root().join(script))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} {script} does not start: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(input).unwrap().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{script} failed");
    serde_json::from_slice(&output.stdout).expect("a JSON array of booleans")
}

/// Verifies deliveries with the official Standard Webhooks Python library, through
/// `tests/receivers/verify_standard_webhooks.py`.
///
/// `None` when the tests were built without `TIDINGS_TEST_PYTHON` (scripts/test sets it) and
/// not under CI: then `e2e`'s `the_official_library_verifies_tidings_signatures` shows as
/// ignored, with the reason. Built with it (or under CI), a missing Python is a failure.
pub fn verify_with_python(cases: &[(String, &receiver::Received)]) -> Option<Vec<bool>> {
    let python = python()?;
    let input: Vec<serde_json::Value> = cases
        .iter()
        .map(|(secret, r)| {
            serde_json::json!({
                "secret": secret,
                "headers": standard_headers(r),
                "body": String::from_utf8(r.body.to_vec()).expect("a UTF-8 body"),
            })
        })
        .collect();
    Some(run_verifier(
        &python,
        "tests/receivers/verify_standard_webhooks.py",
        &input,
    ))
}

/// The Python interpreter of the test tools, or `None` when the tests were built without
/// `TIDINGS_TEST_PYTHON` and not under CI (built with it, a missing one is a failure).
fn python() -> Option<String> {
    match std::env::var("TIDINGS_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ if cfg!(python) => panic!(
            "TIDINGS_TEST_PYTHON is not set, so Python cannot verify signatures: run the \
             tests with bash scripts/test"
        ),
        _ => None,
    }
}

/// The Standard Webhooks headers of a delivery, as a JSON object.
fn standard_headers(r: &receiver::Received) -> serde_json::Value {
    let header = |name: &str| r.header(name).unwrap_or_default().to_owned();
    serde_json::json!({
        "webhook-id": header("webhook-id"),
        "webhook-timestamp": header("webhook-timestamp"),
        "webhook-signature": header("webhook-signature"),
    })
}

/// Verifies the `v1a` (Ed25519) signatures of deliveries with Python `cryptography`,
/// following the spec text, through `tests/receivers/verify_v1a.py`: `(whpk_ public key,
/// delivery)`. `None` as for [`verify_with_python`].
pub fn verify_v1a_with_python(cases: &[(String, &receiver::Received)]) -> Option<Vec<bool>> {
    let input: Vec<serde_json::Value> = cases
        .iter()
        .map(|(public_key, r)| {
            serde_json::json!({
                "public_key": public_key,
                "headers": standard_headers(r),
                "body": String::from_utf8(r.body.to_vec()).expect("a UTF-8 body"),
            })
        })
        .collect();
    verify_v1a_json(&input)
}

/// `tests/receivers/verify_v1a.py` on raw cases (`public_key`, `headers`, `body`, and an
/// optional `now`), such as the spec's vector.
pub fn verify_v1a_json(input: &[serde_json::Value]) -> Option<Vec<bool>> {
    Some(run_verifier(
        &python()?,
        "tests/receivers/verify_v1a.py",
        input,
    ))
}

/// Verifies hex-scheme deliveries with the seeds' own Node receiver code
/// (`tests/receivers/verify_hex.js`): `(secret, signature header value, body)`.
pub fn verify_hex_with_node(cases: &[(String, String, String)]) -> Vec<bool> {
    let input: Vec<serde_json::Value> = cases
        .iter()
        .map(|(secret, signature, body)| {
            serde_json::json!({"secret": secret, "signature": signature, "body": body})
        })
        .collect();
    run_verifier("node", "tests/receivers/verify_hex.js", &input)
}
