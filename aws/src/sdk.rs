//! AWS SDK configuration, loaded once per Lambda container or process.

use aws_config::{BehaviorVersion, SdkConfig};

use crate::aws_http::SdkHttpClient;
use tidings::config::ConfigError;
use tidings::tls::{self, ClientError, TrustRoots};

/// From the environment: credentials, region, and `AWS_ENDPOINT_URL` when it is set (as it
/// is for the local AWS emulator); HTTPS trusting the roots `TIDINGS_TLS_ROOTS` names
/// ([`tidings::tls`]).
pub async fn load() -> Result<SdkConfig, ConfigError> {
    let client = SdkHttpClient::new(TrustRoots::from_env()?).map_err(|e| ConfigError::Invalid {
        name: tls::ENV,
        message: format!("the AWS SDK's HTTPS client: {e}"),
    })?;
    Ok(aws_config::defaults(BehaviorVersion::latest())
        .http_client(client)
        .load()
        .await)
}

/// For a local AWS API emulator such as moto: the given endpoint and dummy credentials.
pub async fn emulator(endpoint: &str) -> Result<SdkConfig, ClientError> {
    // Plain HTTP on the loopback: no certificate is ever checked.
    let client = SdkHttpClient::new(TrustRoots::Bundled)?;
    Ok(aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .http_client(client)
        .load()
        .await)
}

/// Queue settings that `template.yaml` gives the deliveries queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSettings {
    pub visibility_timeout_secs: u32,
    pub max_receive_count: u32,
}

/// Creates the table, both queues and the KMS key as `template.yaml` declares them, named
/// after `prefix`, on an AWS API emulator (or a sandbox account). For tests and local use;
/// on AWS, `sam deploy` creates them.
pub async fn provision(
    sdk: &SdkConfig,
    prefix: &str,
    settings: QueueSettings,
) -> Result<tidings::config::AwsResources, Box<dyn std::error::Error + Send + Sync>> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
    };
    use aws_sdk_sqs::types::QueueAttributeName;

    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let table = format!("{prefix}-table");
    let mut create = dynamo
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest);
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
    };
    for name in ["pk", "sk", "gsi1pk", "gsi1sk"] {
        create = create.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        );
    }
    create
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(crate::dynamo::BY_SUBSCRIPTION_INDEX)
                .key_schema(key("gsi1pk", KeyType::Hash)?)
                .key_schema(key("gsi1sk", KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()?,
        )
        .send()
        .await?;
    dynamo
        .update_time_to_live()
        .table_name(&table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(true)
                .build()?,
        )
        .send()
        .await?;

    let sqs = aws_sdk_sqs::Client::new(sdk);
    let dead_letter_queue_url = sqs
        .create_queue()
        .queue_name(format!("{prefix}-dead-letters"))
        .send()
        .await?
        .queue_url
        .ok_or("CreateQueue returned no URL")?;
    let dead_letter_arn = sqs
        .get_queue_attributes()
        .queue_url(&dead_letter_queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or("GetQueueAttributes returned no ARN")?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dead_letter_arn,
        "maxReceiveCount": settings.max_receive_count.to_string(),
    });
    let delivery_queue_url = sqs
        .create_queue()
        .queue_name(format!("{prefix}-deliveries"))
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            settings.visibility_timeout_secs.to_string(),
        )
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await?
        .queue_url
        .ok_or("CreateQueue returned no URL")?;
    let kms = aws_sdk_kms::Client::new(sdk);
    let kms_key_id = kms
        .create_key()
        .description(format!("{prefix}: seals the secrets in {table}"))
        .send()
        .await?
        .key_metadata
        .map(|k| k.arn.unwrap_or(k.key_id))
        .ok_or("CreateKey returned no key")?;
    Ok(tidings::config::AwsResources {
        table,
        delivery_queue_url,
        dead_letter_queue_url,
        kms_key_id,
    })
}
