//! The one way to run a test on both backends: the embedded (in-memory) adapters, and SQS
//! and DynamoDB on the moto emulator. A scenario takes what it needs — a [`Backend`], a
//! started local runner ([`Running`]), or the [`Kind`] itself to build either later — and
//! [`on_both_backends!`](crate::on_both_backends) makes one test of it for each backend.
//!
//! Queue settings always come from `template.yaml`.

use std::future::Future;
use std::time::Duration;

use tidings::Backend;
use tidings::adapters::Embedded;
use tidings::config::Config;
use tidings::domain::DeliveryMessage;
use tidings::ports::queue::{self, OutgoingMessage, ReceivedMessage};
use tidings_local::{self as local, Options, Running, Storage};

use super::emulator;
use super::template::Template;

/// The development (admin) key every runner the tests start accepts.
pub const ADMIN_KEY: &str = "tdk_tests_admin";

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The in-memory adapters, configured as `template.yaml` configures the queue.
    Embedded,
    /// DynamoDB and SQS on the moto emulator (`TIDINGS_TEST_AWS_ENDPOINT`), a fresh table
    /// and pair of queues for each test, configured as `template.yaml` configures them.
    Moto,
}

/// The in-memory adapters, with the queue settings of `template.yaml`.
pub fn embedded() -> Embedded {
    let settings = Template::load().queue_settings();
    Embedded::new(
        Duration::from_secs(settings.visibility_timeout_secs.into()),
        settings.max_receive_count,
    )
}

impl Kind {
    /// A fresh backend of this kind.
    pub async fn backend(self) -> Backend {
        match self {
            Kind::Embedded => embedded().backend(),
            Kind::Moto => {
                let sdk = emulator::sdk().await;
                let resources = emulator::provision(&sdk).await;
                tidings_aws::backend(&sdk, &resources)
            }
        }
    }

    /// What the local runner stores into, for this kind.
    pub async fn storage(self) -> Storage {
        match self {
            Kind::Embedded => Storage::Embedded,
            Kind::Moto => {
                let sdk = emulator::sdk().await;
                let resources = emulator::provision(&sdk).await;
                Storage::Aws(tidings_aws::backend(&sdk, &resources))
            }
        }
    }

    /// Starts the local runner (HTTP API and dispatcher loops) on 127.0.0.1, on this kind of
    /// backend, accepting [`ADMIN_KEY`] as the `dev` tenant's admin.
    pub async fn start(self, config: Config) -> Running {
        local::start(Options {
            addr: "127.0.0.1:0".parse().unwrap(),
            storage: self.storage().await,
            dev_api_key: Some(ADMIN_KEY.into()),
            config,
        })
        .await
        .expect("the local runner starts")
    }
}

/// What a scenario of [`on_both_backends!`](crate::on_both_backends) can take.
pub trait Fixture: Sized {
    /// Builds the fixture on `kind`; `config` is for those that start a runner.
    fn make(kind: Kind, config: Config) -> impl Future<Output = Self>;
}

impl Fixture for Kind {
    async fn make(kind: Kind, _: Config) -> Self {
        kind
    }
}

impl Fixture for Backend {
    async fn make(kind: Kind, _: Config) -> Self {
        kind.backend().await
    }
}

impl Fixture for Running {
    async fn make(kind: Kind, config: Config) -> Self {
        kind.start(config).await
    }
}

/// Runs `scenario` with the fixture it takes, built on `kind`.
pub async fn run<A, F, Fut>(kind: Kind, config: Config, scenario: F)
where
    A: Fixture,
    F: FnOnce(A) -> Fut,
    Fut: Future<Output = ()>,
{
    scenario(A::make(kind, config).await).await;
}

/// The configuration of scenarios that do not name one.
pub fn default_config() -> Config {
    Config::default()
}

/// Makes two tests of each scenario, `NAME::embedded` and `NAME::moto`. A scenario is an
/// `async fn` that takes a [`Backend`], a [`Running`] runner or a [`Kind`]. Runners start
/// with `Config::default()`, or with the file's own function: `on_both_backends!(config =
/// config; a, b)`.
///
/// Without the emulator (`TIDINGS_TEST_AWS_ENDPOINT` unset when the tests were built, and
/// not under CI) the moto tests are listed as ignored, with the reason.
#[macro_export]
macro_rules! on_both_backends {
    (config = $config:ident; $($scenario:ident),* $(,)?) => {
        $crate::on_both_backends!(@with (super::$config()); $($scenario),*);
    };
    (@with ($config:expr); $($scenario:ident),*) => {$(
        mod $scenario {
            #[tokio::test]
            async fn embedded() {
                $crate::harness::run($crate::harness::Kind::Embedded, $config, super::$scenario)
                    .await;
            }

            #[tokio::test]
            #[cfg_attr(not(moto), ignore = "needs the moto emulator: run bash scripts/test")]
            async fn moto() {
                $crate::harness::run($crate::harness::Kind::Moto, $config, super::$scenario)
                    .await;
            }
        }
    )*};
    ($($scenario:ident),* $(,)?) => {
        $crate::on_both_backends!(@with ($crate::harness::default_config()); $($scenario),*);
    };
}

/// Sends `bodies` to the deliveries queue and receives them back, as the dispatcher would.
pub async fn enqueue(backend: &Backend, bodies: &[String]) -> Vec<ReceivedMessage> {
    let messages: Vec<OutgoingMessage> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| OutgoingMessage::new(i.to_string(), body.clone()))
        .collect();
    queue::send_all(backend.queue.as_ref(), &messages)
        .await
        .unwrap();
    receive(backend, bodies.len()).await
}

/// The next messages to become visible on the deliveries queue (once a backoff has passed,
/// say), waiting up to `deadline`; fails if none does.
pub async fn receive_within(backend: &Backend, deadline: Duration) -> Vec<ReceivedMessage> {
    super::wait::eventually("a message on the deliveries queue", deadline, || async {
        let batch = backend
            .queue
            .receive(10, Duration::from_millis(200))
            .await
            .unwrap();
        (!batch.is_empty()).then_some(batch)
    })
    .await
}

/// Takes every delivery message now visible on the deliveries queue off it, deleting each.
pub async fn drain(backend: &Backend) -> Vec<DeliveryMessage> {
    let mut all = Vec::new();
    loop {
        let batch = backend.queue.receive(10, Duration::ZERO).await.unwrap();
        if batch.is_empty() {
            return all;
        }
        for message in batch {
            backend.queue.delete(&message.receipt_handle).await.unwrap();
            all.push(serde_json::from_str(&message.body).unwrap());
        }
    }
}

/// Receives `count` messages from the deliveries queue; fails if they do not arrive.
pub async fn receive(backend: &Backend, count: usize) -> Vec<ReceivedMessage> {
    let mut received = Vec::new();
    while received.len() < count {
        let batch = backend
            .queue
            .receive(10, Duration::from_secs(1))
            .await
            .unwrap();
        assert!(
            !batch.is_empty(),
            "{count} messages on the deliveries queue, got {}",
            received.len()
        );
        received.extend(batch);
    }
    received
}
