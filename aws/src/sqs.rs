//! The delivery queue on Amazon SQS.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeName, SendMessageBatchRequestEntry,
};

use tidings::ports::queue::*;

pub struct SqsQueue {
    client: Client,
    queue_url: String,
    dead_letter_queue_url: String,
}

fn unavailable(error: impl std::error::Error) -> QueueError {
    QueueError::Unavailable(DisplayErrorContext(error).to_string())
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: String, dead_letter_queue_url: String) -> Self {
        Self {
            client,
            queue_url,
            dead_letter_queue_url,
        }
    }

    async fn receive_from(
        &self,
        queue_url: &str,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let output = self
            .client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(max.clamp(1, MAX_BATCH) as i32)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_attribute_names(REASON_ATTRIBUTE)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(output
            .messages()
            .iter()
            .filter_map(|m| {
                Some(ReceivedMessage {
                    message_id: m.message_id()?.to_owned(),
                    receipt_handle: m.receipt_handle()?.to_owned(),
                    body: m.body().unwrap_or_default().into(),
                    receive_count: m
                        .attributes()
                        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(1),
                    reason: m
                        .message_attributes()
                        .and_then(|a| a.get(REASON_ATTRIBUTE))
                        .and_then(|v| v.string_value())
                        .map(str::to_owned),
                })
            })
            .collect())
    }
}

/// The message counts GetQueueAttributes gives for one queue.
struct Counts {
    visible: u64,
    not_visible: u64,
    delayed: u64,
}

impl SqsQueue {
    async fn attributes(&self, queue_url: &str) -> Result<Counts, QueueError> {
        use aws_sdk_sqs::types::QueueAttributeName as Name;
        let attributes = self
            .client
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(Name::ApproximateNumberOfMessages)
            .attribute_names(Name::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(Name::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(unavailable)?
            .attributes
            .unwrap_or_default();
        let count = |name: Name| {
            attributes
                .get(&name)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        Ok(Counts {
            visible: count(Name::ApproximateNumberOfMessages),
            not_visible: count(Name::ApproximateNumberOfMessagesNotVisible),
            delayed: count(Name::ApproximateNumberOfMessagesDelayed),
        })
    }
}

/// SQS counts visibility in whole seconds: round up, so a backoff is never cut short
/// (a jittered 0.9 s must not become 0), and stay within SQS's 12 h limit.
fn visibility_secs(timeout: Duration) -> i32 {
    timeout
        .min(tidings::domain::retry::MAX_DELAY)
        .as_secs_f64()
        .ceil() as i32
}

#[async_trait]
impl DeliveryQueue for SqsQueue {
    async fn send_batch(&self, entries: &[OutgoingMessage]) -> Result<Vec<String>, QueueError> {
        let entries = entries
            .iter()
            .map(|e| {
                SendMessageBatchRequestEntry::builder()
                    .id(&e.entry_id)
                    .message_body(&e.body)
                    // Whole seconds, rounded up: never visible before its time.
                    .delay_seconds(e.delay.min(MAX_DELAY).as_secs_f64().ceil() as i32)
                    .build()
                    .map_err(unavailable)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(output.failed().iter().map(|f| f.id().to_owned()).collect())
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        self.receive_from(&self.queue_url, max, wait).await
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(visibility_secs(timeout))
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn dead_letter(&self, body: &str, reason: &str) -> Result<(), QueueError> {
        let reason = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(reason)
            .build()
            .map_err(unavailable)?;
        self.client
            .send_message()
            .queue_url(&self.dead_letter_queue_url)
            .message_body(body)
            .message_attributes(REASON_ATTRIBUTE, reason)
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn release_dead_letter(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.dead_letter_queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(0)
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn delete_dead_letter(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.dead_letter_queue_url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    /// StartMessageMoveTask moves the dead letters back to the queue they came from. An
    /// endpoint that does not know the call (the moto emulator) answers `Ok(false)`.
    async fn start_dead_letter_move(&self) -> Result<bool, QueueError> {
        use aws_sdk_sqs::error::ProvideErrorMetadata;
        use aws_sdk_sqs::types::QueueAttributeName;

        let arn = self
            .client
            .get_queue_attributes()
            .queue_url(&self.dead_letter_queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(unavailable)?
            .attributes
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .ok_or_else(|| QueueError::Unavailable("the dead-letter queue has no ARN".into()))?;
        match self
            .client
            .start_message_move_task()
            .source_arn(arn)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            // A service error that is SQS's own (throttling, access, a task already running)
            // is an error; anything else means the endpoint does not implement the call.
            Err(e)
                if e.code().is_some_and(|c| {
                    c.starts_with("AWS.SimpleQueueService")
                        || c.contains("Denied")
                        || c.contains("Throttl")
                }) =>
            {
                Err(unavailable(e))
            }
            Err(e) => {
                tracing::warn!(error = %DisplayErrorContext(&e), "StartMessageMoveTask unavailable; moving messages one by one");
                Ok(false)
            }
        }
    }

    /// From GetQueueAttributes on both queues. SQS's API has no oldest-message age: that
    /// is the CloudWatch metric `ApproximateAgeOfOldestMessage` (`tidings-local status`
    /// reads it there).
    async fn stats(&self) -> Result<QueueStats, QueueError> {
        let main = self.attributes(&self.queue_url).await?;
        let dead = self.attributes(&self.dead_letter_queue_url).await?;
        Ok(QueueStats {
            waiting: main.visible,
            in_flight: main.not_visible,
            delayed: main.delayed,
            oldest_age: None,
            dead_letters: dead.visible + dead.not_visible + dead.delayed,
        })
    }

    async fn receive_dead_letters(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        self.receive_from(&self.dead_letter_queue_url, max, wait)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visibility_rounds_up_to_whole_seconds_within_the_limit() {
        assert_eq!(visibility_secs(Duration::ZERO), 0);
        assert_eq!(visibility_secs(Duration::from_millis(900)), 1);
        assert_eq!(visibility_secs(Duration::from_millis(4200)), 5);
        assert_eq!(visibility_secs(Duration::from_secs(5)), 5);
        assert_eq!(visibility_secs(Duration::from_secs(13 * 3600)), 43_200);
    }
}
