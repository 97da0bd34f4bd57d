//! Waiting for something that happens in the background: poll with a deadline, and fail
//! loudly, saying what never happened. No test sleeps a fixed time and hopes.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How often [`eventually`] looks again.
const POLL: Duration = Duration::from_millis(20);

/// What a probe of [`eventually`] answers: done (with a value), or not yet (with, perhaps,
/// what it saw instead, for the failure message).
pub trait Outcome {
    type Value;
    fn check(self) -> Result<Self::Value, Option<String>>;
}

impl Outcome for bool {
    type Value = ();
    fn check(self) -> Result<(), Option<String>> {
        if self { Ok(()) } else { Err(None) }
    }
}

impl<T> Outcome for Option<T> {
    type Value = T;
    fn check(self) -> Result<T, Option<String>> {
        self.ok_or(None)
    }
}

/// `Err` carries what was seen instead; the last one is in the failure message.
impl<T> Outcome for Result<T, String> {
    type Value = T;
    fn check(self) -> Result<T, Option<String>> {
        self.map_err(Some)
    }
}

/// Polls `probe` until it is done, and returns its value; panics once `within` has passed:
/// "timed out after 10s waiting for {what}; last seen: …".
///
/// ```text
/// eventually("the delivery record to be succeeded", Duration::from_secs(10), || async {
///     store.get_delivery(&tenant, id).await.unwrap().filter(|r| r.success())
/// })
/// .await;
/// ```
pub async fn eventually<O, F, Fut>(what: &str, within: Duration, mut probe: F) -> O::Value
where
    O: Outcome,
    F: FnMut() -> Fut,
    Fut: Future<Output = O>,
{
    let deadline = Instant::now() + within;
    loop {
        let last = match probe().await.check() {
            Ok(value) => return value,
            Err(last) => last,
        };
        if Instant::now() >= deadline {
            match last {
                Some(seen) => {
                    panic!("timed out after {within:?} waiting for {what}; last seen: {seen}")
                }
                None => panic!("timed out after {within:?} waiting for {what}"),
            }
        }
        tokio::time::sleep(POLL).await;
    }
}
