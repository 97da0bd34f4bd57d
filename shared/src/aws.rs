//! AWS SDK configuration, loaded once per Lambda container or process.

use aws_config::{BehaviorVersion, SdkConfig};

/// From the environment: credentials, region, and `AWS_ENDPOINT_URL` when it is set (as it
/// is for the local AWS emulator).
pub async fn load() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// For a local AWS API emulator such as moto: the given endpoint and dummy credentials.
pub async fn emulator(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .load()
        .await
}
