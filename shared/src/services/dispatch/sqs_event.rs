//! The SQS event the Lambda runtime hands the dispatcher, and the answer it expects.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use tracing::warn;

use super::Dispatcher;
use crate::ports::queue::ReceivedMessage;

impl Dispatcher {
    /// Handles an SQS event; the response lists the messages SQS should keep.
    pub async fn handle_sqs_event(&self, event: SqsEvent) -> SqsBatchResponse {
        let messages = received_messages(event);
        let outcome = self.handle_batch(&messages).await;
        let mut response = SqsBatchResponse::default();
        for id in outcome.failed {
            response.add_failure(id);
        }
        response
    }
}

pub fn received_messages(event: SqsEvent) -> Vec<ReceivedMessage> {
    event
        .records
        .into_iter()
        .filter_map(|record| {
            let (Some(message_id), Some(receipt_handle)) =
                (record.message_id, record.receipt_handle)
            else {
                warn!("an SQS record without a message id or receipt handle was ignored");
                return None;
            };
            Some(ReceivedMessage {
                message_id,
                receipt_handle,
                body: record.body.unwrap_or_default().into(),
                receive_count: record
                    .attributes
                    .get("ApproximateReceiveCount")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1),
                reason: None,
            })
        })
        .collect()
}
