//! The local AWS API emulator (moto) that `scripts/test` starts and names in
//! `TIDINGS_TEST_AWS_ENDPOINT`.

use aws_config::SdkConfig;
use tidings::config::AwsResources;

use super::template::Template;

pub const ENDPOINT_VAR: &str = "TIDINGS_TEST_AWS_ENDPOINT";

/// The emulator's SDK configuration. The moto tests are compiled to run (rather than be
/// ignored) only when the endpoint was set at build time, or under CI (see `tests/build.rs`):
/// here a missing endpoint is a failure, never a skip.
pub async fn sdk() -> SdkConfig {
    match std::env::var(ENDPOINT_VAR) {
        Ok(endpoint) if !endpoint.is_empty() => tidings_aws::sdk::emulator(&endpoint)
            .await
            .expect("the SDK's HTTP client builds"),
        _ => panic!(
            "{ENDPOINT_VAR} is not set, so this moto test cannot run: run the tests with \
             bash scripts/test, which starts moto (or start moto_server and set {ENDPOINT_VAR} \
             when building and running the tests)"
        ),
    }
}

/// A fresh table and pair of queues, configured as `template.yaml` configures them.
pub async fn provision(sdk: &SdkConfig) -> AwsResources {
    let prefix = format!(
        "t{}",
        tidings::ids::new_id("x").to_lowercase().replace('_', "-")
    );
    tidings_aws::sdk::provision(sdk, &prefix, Template::load().queue_settings())
        .await
        .expect("provisioning on the emulator")
}
