//! `template.yaml` and the code agree: what is tested is what is deployed.

use std::collections::BTreeSet;

use support::template::{Template, number};
use tidings::config::Config;
use tidings::domain::retry::RetrySchedule;

#[test]
fn max_receive_count_is_the_number_of_attempts_in_the_schedule() {
    let t = Template::load();
    let schedule = t.retry_schedule();
    assert_eq!(
        t.queue_settings().max_receive_count,
        schedule.max_attempts()
    );
    assert_eq!(
        schedule,
        RetrySchedule::default(),
        "the code's default is the template's"
    );
}

#[test]
fn aws_advises_a_visibility_timeout_of_six_times_the_dispatcher_timeout() {
    let t = Template::load();
    let timeout = t.function_timeout("DispatcherFunction");
    assert!(t.queue_settings().visibility_timeout_secs >= 6 * timeout);
    // The dispatcher must finish a batch (concurrent POSTs, each bounded) within its timeout.
    let delivery_timeout: u32 = t.env("TIDINGS_DELIVERY_TIMEOUT_SECS").parse().unwrap();
    assert!(delivery_timeout * 2 < timeout);
}

#[test]
fn the_functions_defaults_match_the_template() {
    let t = Template::load();
    let defaults = Config::default();
    let env: Vec<(String, String)> = [
        "TIDINGS_RETRY_SCHEDULE",
        "TIDINGS_DELIVERY_TIMEOUT_SECS",
        "TIDINGS_RECORD_TTL_DAYS",
        "TIDINGS_SECRET_ROTATION_OVERLAP_SECS",
        "TIDINGS_AUTO_DISABLE_AFTER_SECS",
    ]
    .iter()
    .map(|k| (k.to_string(), t.env(k)))
    .collect();
    let configured = Config::from_lookup(|k| {
        env.iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    assert_eq!(configured.retry, defaults.retry);
    assert_eq!(configured.delivery_timeout, defaults.delivery_timeout);
    assert_eq!(configured.record_ttl, defaults.record_ttl);
    assert_eq!(configured.rotation_overlap, defaults.rotation_overlap);
    assert_eq!(configured.auto_disable_after, defaults.auto_disable_after);
}

#[test]
fn the_table_has_the_keys_and_ttl_the_dynamodb_store_uses() {
    let t = Template::load();
    let table = t.properties("Table");
    let keys: Vec<(&str, &str)> = table["KeySchema"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["AttributeName"].as_str().unwrap(),
                k["KeyType"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(keys, vec![("pk", "HASH"), ("sk", "RANGE")]);
    let index = &table["GlobalSecondaryIndexes"][0];
    assert_eq!(
        index["IndexName"].as_str(),
        Some(tidings::adapters::dynamo::BY_SUBSCRIPTION_INDEX)
    );
    let index_keys: Vec<(&str, &str)> = index["KeySchema"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["AttributeName"].as_str().unwrap(),
                k["KeyType"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(index_keys, vec![("gsi1pk", "HASH"), ("gsi1sk", "RANGE")]);
    assert_eq!(index["Projection"]["ProjectionType"].as_str(), Some("ALL"));
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some("expires_at")
    );
    assert_eq!(table["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true)
    );
}

#[test]
fn the_dispatcher_reports_partial_batch_failures() {
    let t = Template::load();
    let mapping = t.properties("DispatcherEventSource");
    let types: Vec<&str> = mapping["FunctionResponseTypes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(types, vec!["ReportBatchItemFailures"]);
    assert!(number(&mapping["BatchSize"]) <= 10);
    assert!(number(&mapping["ScalingConfig"]["MaximumConcurrency"]) >= 2);
}

#[test]
fn each_function_builds_its_own_binary_with_cargo_lambda() {
    let t = Template::load();
    for (function, binary) in [
        ("IngestFunction", "tidings-ingest"),
        ("ApiFunction", "tidings-api"),
        ("DispatcherFunction", "tidings-dispatcher"),
    ] {
        let metadata = &t.resource(function)["Metadata"];
        assert_eq!(metadata["BuildMethod"].as_str(), Some("rust-cargolambda"));
        assert_eq!(metadata["BuildProperties"]["Binary"].as_str(), Some(binary));
        let manifest = support::read_repo_file(&format!(
            "functions/{}/Cargo.toml",
            binary.trim_start_matches("tidings-")
        ));
        assert!(
            manifest.contains(&format!("name = \"{binary}\"")),
            "{binary}"
        );
    }
}

#[test]
fn every_documented_operation_is_an_http_api_event_of_a_function() {
    let t = Template::load();
    let mut events = std::collections::BTreeSet::new();
    for (_, resource) in t.resources() {
        let Some(declared) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, event) in declared {
            if event["Type"].as_str() == Some("HttpApi") {
                let properties = &event["Properties"];
                events.insert((
                    properties["Method"].as_str().unwrap().to_ascii_uppercase(),
                    properties["Path"].as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    let document: serde_json::Value =
        serde_json::from_str(&support::read_repo_file("openapi.json")).unwrap();
    let mut operations = std::collections::BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    assert_eq!(
        operations, events,
        "openapi.json's operations and template.yaml's HttpApi events differ"
    );
}

/// The `kms:` actions a function's policies allow, each checked to be on the secrets key only
/// and only with the table's encryption context.
fn kms_actions(t: &Template, function: &str) -> BTreeSet<String> {
    let mut actions = BTreeSet::new();
    for policy in t.properties(function)["Policies"].as_sequence().unwrap() {
        for statement in policy["Statement"].as_sequence().unwrap() {
            let listed: Vec<&str> = statement["Action"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            let kms: Vec<&str> = listed
                .iter()
                .copied()
                .filter(|a| a.starts_with("kms:"))
                .collect();
            if kms.is_empty() {
                continue;
            }
            assert_eq!(
                kms.len(),
                listed.len(),
                "{function}: KMS actions in their own statement"
            );
            assert_eq!(
                serde_yaml::to_string(&statement["Resource"])
                    .unwrap()
                    .trim(),
                "!GetAtt SecretsKey.Arn",
                "{function}: KMS actions on the secrets key only"
            );
            assert_eq!(
                serde_yaml::to_string(
                    &statement["Condition"]["StringEquals"]["kms:EncryptionContext:tidings:table"]
                )
                .unwrap()
                .trim(),
                "!Ref Table",
                "{function}: only data keys of this table"
            );
            actions.extend(kms.into_iter().map(str::to_owned));
        }
    }
    actions
}

#[test]
fn each_function_may_use_the_secrets_key_only_as_it_does() {
    let t = Template::load();
    let set = |actions: &[&str]| -> BTreeSet<String> {
        actions.iter().map(|a| (*a).to_owned()).collect()
    };
    // The API seals what it writes and opens what it reads.
    assert_eq!(
        kms_actions(&t, "ApiFunction"),
        set(&["kms:Decrypt", "kms:GenerateDataKey"])
    );
    // The dispatcher opens what it signs with, and seals the deployment's first RSA key when
    // a Saleor JWS delivery needs it before anything else made it.
    assert_eq!(
        kms_actions(&t, "DispatcherFunction"),
        set(&["kms:Decrypt", "kms:GenerateDataKey"])
    );
    // Ingest matches events on routes (id, active, events) and never reads a secret.
    assert_eq!(kms_actions(&t, "IngestFunction"), set(&[]));

    let key = t.properties("SecretsKey");
    assert_eq!(key["EnableKeyRotation"].as_bool(), Some(true));
    assert_eq!(key["KeySpec"].as_str(), Some("SYMMETRIC_DEFAULT"));
    assert_eq!(
        t.resource("SecretsKey")["DeletionPolicy"].as_str(),
        Some("Retain")
    );
    let statements = key["KeyPolicy"]["Statement"].as_sequence().unwrap();
    assert_eq!(
        statements.len(),
        1,
        "the account administers it; IAM grants its use"
    );
    assert_eq!(
        serde_yaml::to_string(&statements[0]["Principal"]["AWS"])
            .unwrap()
            .trim(),
        "!Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:root"
    );
    assert_eq!(
        serde_yaml::to_string(t.env_value("TIDINGS_KMS_KEY_ID"))
            .unwrap()
            .trim(),
        "!GetAtt SecretsKey.Arn"
    );
}
