//! A webhook receiver on 127.0.0.1: it records every request (whatever its method) and
//! answers each path with the statuses it was told to, then 200, or holds a path's requests
//! unanswered until released. And a listener that only counts the connections made to it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::any;

use super::wait::eventually;

#[derive(Debug, Clone)]
pub struct Received {
    pub method: axum::http::Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When it arrived.
    pub at: std::time::Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// One scripted answer.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            ..Self::default()
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: &str) -> Self {
        self.body = body.to_owned();
        self
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    scripts: Mutex<HashMap<String, VecDeque<Reply>>>,
    /// Paths whose requests wait, unanswered, until [`Receiver::release`].
    held: Mutex<HashSet<String>>,
    released: tokio::sync::Notify,
}

pub struct Receiver {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/{*path}", any(receive))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, shared, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    /// The next requests to `path` get these statuses, in order; later ones get 200.
    pub fn respond(&self, path: &str, statuses: &[u16]) {
        let replies: Vec<Reply> = statuses.iter().map(|s| Reply::status(*s)).collect();
        self.reply(path, &replies);
    }

    /// The next requests to `path` get these answers, in order; later ones get 200.
    pub fn reply(&self, path: &str, replies: &[Reply]) {
        self.shared
            .scripts
            .lock()
            .unwrap()
            .entry(format!("/{path}"))
            .or_default()
            .extend(replies.iter().cloned());
    }

    /// Requests to `path` are recorded, then left unanswered until [`Self::release`]: an
    /// endpoint that hangs.
    pub fn hold(&self, path: &str) {
        self.shared.held.lock().unwrap().insert(format!("/{path}"));
    }

    /// Answers the requests held on `path`, and every later one, as usual.
    pub fn release(&self, path: &str) {
        self.shared.held.lock().unwrap().remove(&format!("/{path}"));
        self.shared.released.notify_waiters();
    }

    pub fn received(&self, path: &str) -> Vec<Received> {
        let path = format!("/{path}");
        self.shared
            .received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Waits until `path` has received at least `count` requests, and returns them all;
    /// fails when `timeout` passes first.
    pub async fn wait_for(&self, path: &str, count: usize, timeout: Duration) -> Vec<Received> {
        let what = format!("{count} requests to /{path}");
        eventually(&what, timeout, || async {
            let received = self.received(path);
            if received.len() >= count {
                Ok(received)
            } else {
                Err(format!("{} requests", received.len()))
            }
        })
        .await
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
    method: axum::http::Method,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let path = format!("/{path}");
    shared.received.lock().unwrap().push(Received {
        method,
        path: path.clone(),
        headers,
        body,
        at: std::time::Instant::now(),
    });
    loop {
        // Registered before looking, so a release in between is not missed.
        let released = shared.released.notified();
        tokio::pin!(released);
        released.as_mut().enable();
        if !shared.held.lock().unwrap().contains(&path) {
            break;
        }
        released.await;
    }
    let reply = shared
        .scripts
        .lock()
        .unwrap()
        .get_mut(&path)
        .and_then(VecDeque::pop_front)
        .unwrap_or(Reply::status(200));
    let mut response = axum::response::Response::new(axum::body::Body::from(reply.body));
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap();
    for (name, value) in reply.headers {
        response.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            axum::http::HeaderValue::from_str(&value).unwrap(),
        );
    }
    response
}

/// A listener on 127.0.0.1 that never answers: it only counts the connections made to it.
/// The kernel completes a loopback handshake before `connect` returns, so once a client is
/// done, every connection it made is waiting to be accepted: [`Self::connections`] is
/// exact, with no waiting.
pub struct Listener {
    listener: std::net::TcpListener,
    accepted: Mutex<Vec<std::net::TcpStream>>,
}

impl Listener {
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Self {
            listener,
            accepted: Mutex::new(Vec::new()),
        }
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().unwrap().port()
    }

    /// Connections made to it so far.
    pub fn connections(&self) -> usize {
        let mut accepted = self.accepted.lock().unwrap();
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => accepted.push(stream),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return accepted.len(),
                Err(e) => panic!("accept failed: {e}"),
            }
        }
    }
}
