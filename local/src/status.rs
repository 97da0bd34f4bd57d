//! `tidings-local status`: how full the deliveries and dead-letter queues are. The counts
//! come from the queue port ([`DeliveryQueue::stats`]: SQS's GetQueueAttributes, or the
//! embedded queue itself); the oldest message's age from the queue where it knows it (the
//! embedded queue), else from SQS's CloudWatch metric `ApproximateAgeOfOldestMessage`.
//!
//! [`DeliveryQueue::stats`]: tidings::ports::queue::DeliveryQueue::stats

use std::fmt;
use std::time::Duration;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use tidings::Backend;
use tidings::ports::queue::{QueueError, QueueStats};

/// Where the oldest-message age was read, when it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgeSource {
    /// The queue adapter knows it (the embedded queue).
    Queue,
    /// SQS's CloudWatch metric, its latest datapoint of the last 15 minutes.
    CloudWatch,
    /// Neither: SQS's API has no such attribute and CloudWatch had no recent datapoint.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub stats: QueueStats,
    pub age_source: AgeSource,
}

/// Where to read SQS's `ApproximateAgeOfOldestMessage`: a CloudWatch client and the
/// deliveries queue's name.
pub struct AgeMetric {
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub queue_name: String,
}

impl AgeMetric {
    /// For the deliveries queue at `queue_url`, through `sdk`.
    pub fn new(sdk: &aws_config::SdkConfig, queue_url: &str) -> Self {
        Self {
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
            queue_name: queue_name(queue_url).to_owned(),
        }
    }

    /// The latest datapoint (Maximum, per minute) of the last 15 minutes, if any.
    async fn read(&self) -> Result<Option<Duration>, aws_sdk_cloudwatch::Error> {
        let now = std::time::SystemTime::now();
        let output = self
            .cloudwatch
            .get_metric_statistics()
            .namespace("AWS/SQS")
            .metric_name("ApproximateAgeOfOldestMessage")
            .dimensions(
                Dimension::builder()
                    .name("QueueName")
                    .value(&self.queue_name)
                    .build(),
            )
            .start_time(DateTime::from(now - Duration::from_secs(15 * 60)))
            // Through the current minute, which the latest datapoint may be stamped with.
            .end_time(DateTime::from(now + Duration::from_secs(60)))
            .period(60)
            .statistics(Statistic::Maximum)
            .send()
            .await?;
        Ok(output
            .datapoints()
            .iter()
            .filter_map(|d| Some((d.timestamp()?.secs(), d.maximum()?)))
            .max_by_key(|(at, _)| *at)
            .map(|(_, secs)| Duration::from_secs_f64(secs.max(0.0))))
    }
}

/// The last segment of an SQS queue URL: the queue's name, as CloudWatch dimensions it.
pub fn queue_name(queue_url: &str) -> &str {
    queue_url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(queue_url)
}

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("cannot read ApproximateAgeOfOldestMessage from CloudWatch: {0}")]
    CloudWatch(#[from] aws_sdk_cloudwatch::Error),
}

/// The queues' status on `backend`; `age` says where to read the oldest message's age when
/// the queue does not know it.
pub async fn read(backend: &Backend, age: Option<&AgeMetric>) -> Result<Status, StatusError> {
    let mut stats = backend.queue.stats().await?;
    let age_source = match (stats.oldest_age, age) {
        (Some(_), _) => AgeSource::Queue,
        (None, Some(metric)) => match metric.read().await? {
            Some(found) => {
                stats.oldest_age = Some(found);
                AgeSource::CloudWatch
            }
            None => AgeSource::Unknown,
        },
        (None, None) => AgeSource::Unknown,
    };
    Ok(Status { stats, age_source })
}

impl Status {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "waiting": self.stats.waiting,
            "in_flight": self.stats.in_flight,
            "delayed": self.stats.delayed,
            "oldest_message_age_secs": self.stats.oldest_age.map(|a| a.as_secs()),
            "oldest_message_age_source": match self.age_source {
                AgeSource::Queue => "queue",
                AgeSource::CloudWatch => "cloudwatch",
                AgeSource::Unknown => "unknown",
            },
            "dead_letters": self.stats.dead_letters,
        })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        writeln!(f, "deliveries queue")?;
        writeln!(f, "  waiting          {}", s.waiting)?;
        writeln!(f, "  in flight        {}", s.in_flight)?;
        if s.delayed > 0 {
            writeln!(f, "  delayed          {}", s.delayed)?;
        }
        match (s.oldest_age, self.age_source) {
            (Some(age), AgeSource::CloudWatch) => writeln!(
                f,
                "  oldest message   {} (CloudWatch ApproximateAgeOfOldestMessage)",
                human(age)
            )?,
            (Some(age), _) => writeln!(f, "  oldest message   {}", human(age))?,
            (None, _) => writeln!(
                f,
                "  oldest message   unknown (no CloudWatch datapoint in the last 15 minutes)"
            )?,
        }
        write!(f, "dead letters       {}", s.dead_letters)
    }
}

/// `42s`, `7m 05s`, `3h 02m`.
fn human(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_durations_read_well() {
        assert_eq!(
            queue_name("http://127.0.0.1:5000/123456789012/tidings-deliveries"),
            "tidings-deliveries"
        );
        assert_eq!(human(Duration::from_secs(42)), "42s");
        assert_eq!(human(Duration::from_secs(425)), "7m 05s");
        assert_eq!(human(Duration::from_secs(3 * 3600 + 120)), "3h 02m");
    }
}
