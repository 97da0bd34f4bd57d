//! The AWS cost model: list prices, and what a million deliveries cost given the requests
//! that `tests/cost.rs` meters on the emulator per event and per delivery.

use std::fmt::Write;

/// List prices, us-east-1, as published on each service's pricing page on 2026-11-25
/// (aws.amazon.com/{api-gateway,lambda,sqs,dynamodb,cloudwatch}/pricing), first tier,
/// free tiers ignored. DynamoDB on-demand is the price since its cut of 2024-11-01.
pub mod price {
    /// HTTP API, per request (each started 512 KB).
    pub const API_GATEWAY_REQUEST: f64 = 1.00e-6;
    pub const LAMBDA_REQUEST: f64 = 0.20e-6;
    /// Per GB-second, arm64 (the template's default architecture).
    pub const LAMBDA_GB_SECOND_ARM64: f64 = 0.000_013_333_4;
    /// Standard queue, per request (each started 64 KB).
    pub const SQS_REQUEST: f64 = 0.40e-6;
    /// On-demand, per write request unit (1 KB) and read request unit (4 KB consistent).
    pub const DYNAMODB_WRITE_UNIT: f64 = 0.625e-6;
    pub const DYNAMODB_READ_UNIT: f64 = 0.125e-6;
    pub const KMS_REQUEST: f64 = 3.00e-6;
    /// Standard log class, per GB ingested.
    pub const LOGS_GB: f64 = 0.50;
}

/// What one unit of work asked of AWS, from the meter: per event at ingest, or per delivery
/// at the dispatcher.
#[derive(Debug, Default, Clone, Copy)]
pub struct Work {
    pub dynamodb_write_units: f64,
    pub dynamodb_read_units: f64,
    pub sqs_requests: f64,
    /// Messages put on the deliveries queue (several deliveries of an event share one).
    pub sqs_messages: f64,
    pub kms_requests: f64,
    /// Bytes of log and metric lines written to stdout (CloudWatch Logs on Lambda).
    pub log_bytes: f64,
}

/// What the model assumes of what the meter cannot see.
#[derive(Debug, Clone, Copy)]
pub struct Assumptions {
    /// Events per ingest request: 1, or up to 100 with `POST /v1/events/batch`.
    pub events_per_request: f64,
    /// Messages per dispatcher invocation (the event source mapping's batch size, full).
    pub dispatcher_batch: f64,
    /// Function memory, GB.
    pub ingest_memory_gb: f64,
    pub dispatcher_memory_gb: f64,
    /// Billed duration of one ingest invocation, and of one dispatcher invocation (its
    /// deliveries are POSTed concurrently, so about the slowest endpoint's answer).
    pub ingest_seconds: f64,
    pub dispatcher_seconds: f64,
}

/// $ per million deliveries, item by item.
#[derive(Debug, Clone)]
pub struct Bill {
    pub items: Vec<(&'static str, f64)>,
}

impl Bill {
    pub fn total(&self) -> f64 {
        self.items.iter().map(|(_, dollars)| dollars).sum()
    }
}

/// The cost of a million deliveries at `fan_out` deliveries per event.
pub fn per_million_deliveries(ingest: Work, dispatch: Work, fan_out: f64, a: Assumptions) -> Bill {
    let events = 1e6 / fan_out;
    let requests = events / a.events_per_request;
    let invocations = 1e6 / a.dispatcher_batch;
    // The event source mapping receives and deletes ten messages per SQS request.
    let mapping_sqs = 2.0 * events * ingest.sqs_messages / 10.0;
    let dynamo = |w: Work, n: f64| {
        n * (w.dynamodb_write_units * price::DYNAMODB_WRITE_UNIT
            + w.dynamodb_read_units * price::DYNAMODB_READ_UNIT)
    };
    Bill {
        items: vec![
            ("API Gateway", requests * price::API_GATEWAY_REQUEST),
            (
                "Lambda ingest",
                requests
                    * (price::LAMBDA_REQUEST
                        + a.ingest_memory_gb * a.ingest_seconds * price::LAMBDA_GB_SECOND_ARM64),
            ),
            ("DynamoDB ingest", dynamo(ingest, events)),
            (
                "SQS",
                (events * ingest.sqs_requests + 1e6 * dispatch.sqs_requests + mapping_sqs)
                    * price::SQS_REQUEST,
            ),
            (
                "Lambda dispatcher",
                invocations
                    * (price::LAMBDA_REQUEST
                        + a.dispatcher_memory_gb
                            * a.dispatcher_seconds
                            * price::LAMBDA_GB_SECOND_ARM64),
            ),
            ("DynamoDB dispatcher", dynamo(dispatch, 1e6)),
            (
                "KMS",
                (events * ingest.kms_requests + 1e6 * dispatch.kms_requests) * price::KMS_REQUEST,
            ),
            (
                "CloudWatch Logs",
                (events * ingest.log_bytes + 1e6 * dispatch.log_bytes) / 1e9 * price::LOGS_GB,
            ),
        ],
    }
}

/// The bills side by side, one column each, as the benchmark prints them.
pub fn table(columns: &[(String, Bill)]) -> String {
    let mut out = String::new();
    let _ = write!(out, "{:<22}", "$ per million deliveries");
    for (name, _) in columns {
        let _ = write!(out, " {name:>16}");
    }
    out.push('\n');
    let rows = columns.first().map_or(0, |(_, bill)| bill.items.len());
    for row in 0..rows {
        let _ = write!(out, "{:<22}", columns[0].1.items[row].0);
        for (_, bill) in columns {
            // `+ 0.0` turns a -0.0 into 0.0 for printing.
            let _ = write!(out, " {:>16.3}", bill.items[row].1 + 0.0);
        }
        out.push('\n');
    }
    let _ = write!(out, "{:<22}", "total");
    for (_, bill) in columns {
        let _ = write!(out, " {:>16.3}", bill.total());
    }
    out.push('\n');
    out
}
