//! The dispatcher Lambda: SQS batches of deliveries in, partial batch failures out.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use tidings::config::Config;
use tidings::services::dispatch::Dispatcher;

// One thread: a container gets one invocation at a time, on a share of a vCPU, and a second
// worker only adds wake-ups across threads (and 0.2 ms to init: README, Lambda cold start).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tidings::telemetry::init_lambda();
    // The HTTP client and AWS clients are built once per container.
    let dispatcher = &Dispatcher::new(tidings_aws::backend_from_env().await?, Config::from_env()?)?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(dispatcher.handle_sqs_event(event.payload).await)
    }))
    .await
}
