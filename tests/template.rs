//! `template.yaml` and the code agree: what is tested is what is deployed.

use std::collections::BTreeSet;

use support::template::{Template, intrinsic, number};
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
        Some(tidings_aws::dynamo::BY_SUBSCRIPTION_INDEX)
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
    // Parameters, with the defaults of the README's cost model.
    let default = |value: &serde_yaml::Value, parameter: &str| {
        assert_eq!(
            intrinsic(value),
            Some(("Ref".to_owned(), parameter)),
            "the event source's setting is the {parameter} parameter"
        );
        number(&t.parameter(parameter)["Default"])
    };
    let batch = default(&mapping["BatchSize"], "DispatcherBatchSize");
    let window = default(
        &mapping["MaximumBatchingWindowInSeconds"],
        "DispatcherBatchingWindowSeconds",
    );
    let concurrency = default(
        &mapping["ScalingConfig"]["MaximumConcurrency"],
        "DispatcherMaxConcurrency",
    );
    assert_eq!((batch, window, concurrency), (100, 1, 10));
    // SQS: a batch of more than ten needs a batching window of at least a second.
    assert!(batch <= 10 || window >= 1);
    assert!(number(&t.parameter("DispatcherBatchingWindowSeconds")["MinValue"]) <= window);
}

#[test]
fn the_dispatcher_caches_subscriptions_for_the_parameters_time() {
    let t = Template::load();
    let variables = &t.properties("DispatcherFunction")["Environment"]["Variables"];
    assert_eq!(
        intrinsic(&variables["TIDINGS_SUBSCRIPTION_CACHE_SECS"]),
        Some(("Ref".to_owned(), "SubscriptionCacheSeconds"))
    );
    let secs = number(&t.parameter("SubscriptionCacheSeconds")["Default"]);
    let config =
        Config::from_lookup(|k| (k == "TIDINGS_SUBSCRIPTION_CACHE_SECS").then(|| secs.to_string()))
            .unwrap();
    assert_eq!(config.subscription_cache.as_secs(), 30);
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

/// `sam build` runs `cargo lambda build --release`, which makes the functions abort on a
/// panic only when `[profile.release]` says nothing of `panic` (README, "Lambda cold start
/// and bootstrap size": about 1 MB of each bootstrap), while `cargo build` keeps unwinding
/// for the local runner. Spelling `panic` out would silently give up one or the other.
#[test]
fn the_release_profile_leaves_panic_to_cargo_lambda() {
    let manifest = support::read_repo_file("Cargo.toml");
    let release = manifest
        .split("\n[")
        .find(|section| section.starts_with("profile.release]"))
        .expect("Cargo.toml has a [profile.release]");
    assert!(
        !release.lines().any(|l| l.trim_start().starts_with("panic")),
        "[profile.release] sets panic:\n{release}"
    );
    assert!(release.contains("strip = true"), "{release}");
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

// ------------------------------------------------------------------ operating Tidings

/// What a dimension value of an alarm or a dashboard widget names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DimensionValue {
    /// `!Ref X` (or `${X}` in the dashboard): the resource X's own value.
    Ref(String),
    /// `!GetAtt X.Attr` (or `${X.Attr}`).
    Attribute(String, String),
    Literal(String),
}

impl DimensionValue {
    fn of_yaml(value: &serde_yaml::Value) -> Self {
        match intrinsic(value) {
            Some((tag, name)) if tag == "Ref" => Self::Ref(name.to_owned()),
            Some((tag, path)) if tag == "GetAtt" => {
                let (resource, attribute) = path.split_once('.').expect("!GetAtt X.Attr");
                Self::Attribute(resource.to_owned(), attribute.to_owned())
            }
            Some((tag, _)) => panic!("unexpected !{tag} as a dimension value"),
            None => Self::Literal(value.as_str().expect("a string").to_owned()),
        }
    }

    /// A dashboard string, where `substitute` turned `${X}` into `@ref:X`.
    fn of_dashboard(value: &str) -> Self {
        match value.strip_prefix("@ref:") {
            Some(path) => match path.split_once('.') {
                Some((resource, attribute)) => {
                    Self::Attribute(resource.to_owned(), attribute.to_owned())
                }
                None => Self::Ref(path.to_owned()),
            },
            None => Self::Literal(value.to_owned()),
        }
    }
}

/// Each Tidings metric the code writes, once per outcome it is written with: its name,
/// dimension names, role (`dispatcher`, `ingest`) and outcome.
fn tidings_metrics() -> Vec<(String, Vec<String>, String, Option<String>)> {
    use tidings::metrics::{CircuitChange, DeliveryIds, DeliveryOutcome, IngestOutcome, Metrics};
    let (metrics, captured) = Metrics::captured();
    let tenant = tidings::domain::TenantId::parse("acme").unwrap();
    let ids = DeliveryIds {
        tenant: &tenant,
        event: "evt_1",
        delivery: "dlv_1",
        subscription: "sub_1",
    };
    let second = std::time::Duration::from_secs(1);
    for outcome in DeliveryOutcome::ALL {
        metrics.delivery(outcome, Some(ids), Some((second, second)));
    }
    metrics.batch(1);
    for outcome in IngestOutcome::ALL {
        metrics.ingest(outcome, &tenant, 1, 1);
    }
    for change in CircuitChange::ALL {
        metrics.circuit(change, &tenant, "sub_1");
    }
    let mut found = Vec::new();
    for line in captured.json() {
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        let dimensions: Vec<String> = directive["Dimensions"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_owned())
            .collect();
        for metric in directive["Metrics"].as_array().unwrap() {
            found.push((
                metric["Name"].as_str().unwrap().to_owned(),
                dimensions.clone(),
                line["Function"].as_str().unwrap().to_owned(),
                line["Outcome"].as_str().map(str::to_owned),
            ));
        }
    }
    found
}

/// Fails unless the metric exists: a Tidings metric the code writes, with the code's
/// dimensions, for the function that writes it; or an AWS metric of a resource of the
/// template, of the right type.
fn check_metric(
    t: &Template,
    namespace: &str,
    name: &str,
    dimensions: &[(String, DimensionValue)],
    context: &str,
) {
    let resource = |value: &DimensionValue, expected_type: &str, attribute: Option<&str>| {
        let (resource, attr) = match value {
            DimensionValue::Ref(r) => (r.as_str(), None),
            DimensionValue::Attribute(r, a) => (r.as_str(), Some(a.as_str())),
            DimensionValue::Literal(l) => panic!("{context}: {l} names no resource"),
        };
        assert_eq!(
            t.resource_type(resource),
            Some(expected_type),
            "{context}: {resource} is not a {expected_type} of the template"
        );
        assert_eq!(attr, attribute, "{context}: {resource}");
        resource.to_owned()
    };
    let names: Vec<&str> = dimensions.iter().map(|(n, _)| n.as_str()).collect();
    match namespace {
        "Tidings" => {
            let known = tidings_metrics();
            let (_, expected, role, _) = known
                .iter()
                .find(|(n, _, _, _)| n == name)
                .unwrap_or_else(|| panic!("{context}: the code writes no metric {name}"));
            let mut sorted = names.clone();
            sorted.sort();
            let mut expected_sorted: Vec<&str> = expected.iter().map(String::as_str).collect();
            expected_sorted.sort();
            assert_eq!(sorted, expected_sorted, "{context}: {name}'s dimensions");
            for (dimension, value) in dimensions {
                match dimension.as_str() {
                    "Function" => {
                        let function = resource(value, "AWS::Serverless::Function", None);
                        let expected = match role.as_str() {
                            "dispatcher" => "DispatcherFunction",
                            "ingest" => "IngestFunction",
                            other => panic!("unknown role {other}"),
                        };
                        assert_eq!(function, expected, "{context}: {name} is written by");
                    }
                    "Outcome" => {
                        let DimensionValue::Literal(outcome) = value else {
                            panic!("{context}: Outcome is a literal")
                        };
                        assert!(
                            known
                                .iter()
                                .any(|(n, _, _, o)| n == name
                                    && o.as_deref() == Some(outcome.as_str())),
                            "{context}: {name} has no outcome {outcome}"
                        );
                    }
                    other => panic!("{context}: unexpected dimension {other}"),
                }
            }
        }
        "AWS/SQS" => {
            assert_eq!(names, ["QueueName"], "{context}");
            resource(&dimensions[0].1, "AWS::SQS::Queue", Some("QueueName"));
        }
        "AWS/Lambda" => {
            assert_eq!(names, ["FunctionName"], "{context}");
            resource(&dimensions[0].1, "AWS::Serverless::Function", None);
        }
        "AWS/ApiGateway" => {
            assert_eq!(names, ["ApiId"], "{context}");
            resource(&dimensions[0].1, "AWS::Serverless::HttpApi", None);
        }
        other => panic!("{context}: unexpected namespace {other}"),
    }
}

fn yaml_dimensions(metric: &serde_yaml::Value) -> Vec<(String, DimensionValue)> {
    metric["Dimensions"]
        .as_sequence()
        .map(|ds| {
            ds.iter()
                .map(|d| {
                    (
                        d["Name"].as_str().unwrap().to_owned(),
                        DimensionValue::of_yaml(&d["Value"]),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_alarm_watches_metrics_of_the_template_and_notifies_the_alarm_topic() {
    let t = Template::load();
    let alarms = t.resources_of("AWS::CloudWatch::Alarm");
    for expected in [
        "DeliveriesBacklogAlarm",
        "DeadLettersAlarm",
        "DispatcherErrorsAlarm",
        "DispatcherThrottlesAlarm",
        "Ingest5xxAlarm",
    ] {
        assert!(alarms.iter().any(|a| a == expected), "{expected}");
    }
    assert_eq!(t.resource_type("AlarmTopic"), Some("AWS::SNS::Topic"));
    for alarm in &alarms {
        let p = t.properties(alarm);
        for actions in ["AlarmActions", "OKActions"] {
            let targets: Vec<_> = p[actions]
                .as_sequence()
                .unwrap_or_else(|| panic!("{alarm} has {actions}"))
                .iter()
                .map(|a| intrinsic(a).map(|(tag, name)| (tag, name.to_owned())))
                .collect();
            assert_eq!(
                targets,
                vec![Some(("Ref".to_owned(), "AlarmTopic".to_owned()))],
                "{alarm} {actions}"
            );
        }
        let mut watched = 0;
        if let Some(name) = p["MetricName"].as_str() {
            let namespace = p["Namespace"].as_str().unwrap();
            check_metric(&t, namespace, name, &yaml_dimensions(p), alarm);
            watched += 1;
        }
        for query in p["Metrics"].as_sequence().into_iter().flatten() {
            let metric = &query["MetricStat"]["Metric"];
            if metric.is_null() {
                // An expression: every id it uses is a query of this alarm.
                let expression = query["Expression"].as_str().unwrap();
                let ids: Vec<&str> = p["Metrics"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .filter_map(|q| q["Id"].as_str())
                    .collect();
                for word in expression
                    .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .filter(|w| w.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
                {
                    assert!(ids.contains(&word), "{alarm}: {expression} uses {word}");
                }
                continue;
            }
            check_metric(
                &t,
                metric["Namespace"].as_str().unwrap(),
                metric["MetricName"].as_str().unwrap(),
                &yaml_dimensions(metric),
                alarm,
            );
            watched += 1;
        }
        assert!(watched > 0, "{alarm} watches a metric");
    }
    let threshold = &t.properties("DeliveriesBacklogAlarm")["Threshold"];
    assert_eq!(
        intrinsic(threshold).map(|(tag, name)| (tag, name.to_owned())),
        Some(("Ref".into(), "OldestMessageAgeAlarmSeconds".into()))
    );
    assert!(number(&t.parameter("OldestMessageAgeAlarmSeconds")["Default"]) >= 60);
}

#[test]
fn the_alarm_email_is_subscribed_only_when_given() {
    let t = Template::load();
    assert_eq!(t.parameter("AlarmEmail")["Default"].as_str(), Some(""));
    let subscription = t.resource("AlarmEmailSubscription");
    assert_eq!(subscription["Condition"].as_str(), Some("HasAlarmEmail"));
    let condition = t.condition("HasAlarmEmail");
    let (not, _) = match condition {
        serde_yaml::Value::Tagged(tagged) => (tagged.tag.to_string(), &tagged.value),
        other => panic!("HasAlarmEmail is !Not […]: {other:?}"),
    };
    assert_eq!(not, "!Not");
    let text = serde_yaml::to_string(condition).unwrap();
    assert!(
        text.contains("!Equals") && text.contains("!Ref AlarmEmail"),
        "{text}"
    );
    let p = &subscription["Properties"];
    assert_eq!(p["Protocol"].as_str(), Some("email"));
    assert_eq!(
        intrinsic(&p["Endpoint"]).map(|(tag, name)| (tag, name.to_owned())),
        Some(("Ref".into(), "AlarmEmail".into()))
    );
    assert_eq!(
        intrinsic(&p["TopicArn"]).map(|(tag, name)| (tag, name.to_owned())),
        Some(("Ref".into(), "AlarmTopic".into()))
    );
}

/// The dashboard's body with every `${…}` checked and replaced: a resource (or its
/// attribute) by `@ref:X` (`@ref:X.Attr`), a parameter by its default, a pseudo parameter
/// by an example value.
fn dashboard(t: &Template) -> serde_json::Value {
    let body = &t.properties("Dashboard")["DashboardBody"];
    let (tag, text) = intrinsic(body).expect("DashboardBody is !Sub");
    assert_eq!(tag, "Sub");
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closed ${…}") + start;
        let name = &rest[start + 2..end];
        let replacement = if let Some(pseudo) = name.strip_prefix("AWS::") {
            assert!(["Region", "StackName"].contains(&pseudo), "{name}");
            "us-east-1".to_owned()
        } else if let Some((resource, _)) = name.split_once('.') {
            assert!(
                t.resource_type(resource).is_some(),
                "no resource {resource}"
            );
            format!("@ref:{name}")
        } else if t.resource_type(name).is_some() {
            format!("@ref:{name}")
        } else {
            let default = &t.parameter(name)["Default"];
            number(default).to_string()
        };
        out.push_str(&replacement);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("the dashboard is JSON: {e}\n{out}"))
}

#[test]
fn the_dashboard_shows_every_alarm_and_metrics_that_exist() {
    let t = Template::load();
    let body = dashboard(&t);
    let widgets = body["widgets"].as_array().unwrap();
    let mut alarms_shown = Vec::new();
    let mut tidings_shown = Vec::new();
    for (i, widget) in widgets.iter().enumerate() {
        let p = &widget["properties"];
        let context = format!("widget {i} ({})", p["title"]);
        match widget["type"].as_str().unwrap() {
            "alarm" => {
                for alarm in p["alarms"].as_array().unwrap() {
                    let DimensionValue::Attribute(name, attribute) =
                        DimensionValue::of_dashboard(alarm.as_str().unwrap())
                    else {
                        panic!("{context}: alarms are ${{X.Arn}}")
                    };
                    assert_eq!(attribute, "Arn");
                    assert_eq!(
                        t.resource_type(&name),
                        Some("AWS::CloudWatch::Alarm"),
                        "{context}: {name}"
                    );
                    alarms_shown.push(name);
                }
            }
            "metric" => {
                assert_eq!(
                    p["region"], "us-east-1",
                    "{context}: region is ${{AWS::Region}}"
                );
                for row in p["metrics"].as_array().unwrap() {
                    let parts: Vec<&str> = row
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(|v| v.as_str())
                        .collect();
                    assert!(
                        parts.len() >= 2 && parts.len().is_multiple_of(2),
                        "{context}: [namespace, name, dimension, value…]: {row}"
                    );
                    let dimensions: Vec<(String, DimensionValue)> = parts[2..]
                        .chunks(2)
                        .map(|c| (c[0].to_owned(), DimensionValue::of_dashboard(c[1])))
                        .collect();
                    check_metric(&t, parts[0], parts[1], &dimensions, &context);
                    if parts[0] == "Tidings" {
                        tidings_shown.push(parts[1].to_owned());
                    }
                }
            }
            other => panic!("{context}: unexpected widget type {other}"),
        }
    }
    let mut all_alarms = t.resources_of("AWS::CloudWatch::Alarm");
    all_alarms.sort();
    alarms_shown.sort();
    assert_eq!(
        alarms_shown, all_alarms,
        "the alarm widget shows every alarm"
    );
    for (name, _, _, _) in tidings_metrics() {
        assert!(
            tidings_shown.contains(&name),
            "the dashboard shows the metric {name}"
        );
    }
}

#[test]
fn every_function_logs_to_its_own_group_with_a_retention() {
    let t = Template::load();
    let functions = t.resources_of("AWS::Serverless::Function");
    assert_eq!(functions.len(), 3);
    let retention = t.parameter("LogRetentionDays");
    assert_eq!(number(&retention["Default"]), 30);
    let mut groups = Vec::new();
    for function in &functions {
        let logging = &t.properties(function)["LoggingConfig"];
        // Text: the JSON log lines and the EMF metric lines reach CloudWatch as written.
        assert_eq!(logging["LogFormat"].as_str(), Some("Text"), "{function}");
        let (tag, group) = intrinsic(&logging["LogGroup"])
            .unwrap_or_else(|| panic!("{function} names its log group"));
        assert_eq!(tag, "Ref");
        assert_eq!(t.resource_type(group), Some("AWS::Logs::LogGroup"));
        let days = &t.properties(group)["RetentionInDays"];
        assert_eq!(
            intrinsic(days).map(|(tag, name)| (tag, name.to_owned())),
            Some(("Ref".into(), "LogRetentionDays".into())),
            "{group}"
        );
        groups.push(group.to_owned());
    }
    groups.sort();
    groups.dedup();
    assert_eq!(groups.len(), functions.len(), "one log group per function");
    assert_eq!(
        t.resources_of("AWS::Logs::LogGroup").len(),
        functions.len(),
        "no log group without its function"
    );
}

#[test]
fn the_tenant_dimension_is_off_unless_the_stack_turns_it_on() {
    let t = Template::load();
    let variable = &support::template::globals_env(&t)["TIDINGS_METRICS_TENANT_DIMENSION"];
    assert_eq!(
        intrinsic(variable).map(|(tag, name)| (tag, name.to_owned())),
        Some(("Ref".into(), "MetricsTenantDimension".into()))
    );
    let parameter = t.parameter("MetricsTenantDimension");
    assert_eq!(parameter["Default"].as_str(), Some("false"));
    let on = Config::from_lookup(|k| {
        (k == "TIDINGS_METRICS_TENANT_DIMENSION").then(|| "false".to_owned())
    })
    .unwrap();
    assert!(!on.metrics.tenant_dimension());
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
