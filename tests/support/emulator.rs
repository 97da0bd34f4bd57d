//! The local AWS API emulator (moto) that `scripts/test` starts and names in
//! `TIDINGS_TEST_AWS_ENDPOINT`.

use aws_config::SdkConfig;
use tidings::config::AwsResources;

use super::template::Template;

pub const ENDPOINT_VAR: &str = "TIDINGS_TEST_AWS_ENDPOINT";

/// The emulator's SDK configuration, or `None` when the tests run without one.
///
/// Plain `cargo test` skips the AWS half (saying so); under CI, and whenever the endpoint
/// is set, the AWS half runs and a missing emulator is a failure.
pub async fn sdk() -> Option<SdkConfig> {
    match std::env::var(ENDPOINT_VAR) {
        Ok(endpoint) if !endpoint.is_empty() => {
            Some(tidings::adapters::aws::emulator(&endpoint).await)
        }
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{ENDPOINT_VAR} is not set: run the tests with scripts/test, which starts moto")
        }
        _ => {
            eprintln!("skipping the AWS half: {ENDPOINT_VAR} is not set (scripts/test sets it)");
            None
        }
    }
}

/// A fresh table and pair of queues, configured as `template.yaml` configures them.
pub async fn provision(sdk: &SdkConfig) -> AwsResources {
    let prefix = format!(
        "t{}",
        tidings::ids::new_id("x").to_lowercase().replace('_', "-")
    );
    tidings::adapters::aws::provision(sdk, &prefix, Template::load().queue_settings())
        .await
        .expect("provisioning on the emulator")
}
