//! The seeds' own receiver code (`tests/receivers/*.js`), run with node as a child process
//! on 127.0.0.1: it prints `listening <port>`, records which branch handled each request,
//! and serves those records at `GET /received`. The process is killed when this is dropped.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::repo_root;
use super::wait::eventually;

/// How long a receiver has to print its port.
const START: Duration = Duration::from_secs(15);

/// What the child has printed so far, for failure messages.
#[derive(Default)]
struct Output {
    stdout: Vec<String>,
    stderr: String,
    port: Option<u16>,
}

pub struct NodeReceiver {
    script: String,
    child: Child,
    pub port: u16,
    output: Arc<Mutex<Output>>,
    http: reqwest::Client,
}

impl NodeReceiver {
    /// Starts `tests/receivers/{script}` on an OS-chosen port of 127.0.0.1, with `env`
    /// added to the environment (the secrets), and waits until it listens.
    pub async fn start(script: &str, env: &[(&str, &str)]) -> Self {
        let dir = repo_root().join("tests/receivers");
        assert!(
            dir.join("node_modules/express").is_dir(),
            "tests/receivers/node_modules/express is missing: run the tests with bash \
             scripts/test, which runs `npm ci` there (or run it yourself)"
        );
        let mut command = Command::new("node");
        command
            .arg(dir.join(script))
            .arg("0")
            .current_dir(&dir)
            .env_remove("PORT")
            .env_remove("RECEIVED_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap_or_else(|e| {
            panic!("node {script} does not start ({e}): the tests need Node.js; run them with bash scripts/test")
        });

        // Drain both pipes for the child's whole life, so it never blocks writing a log line.
        let output = Arc::new(Mutex::new(Output::default()));
        let stdout = child.stdout.take().unwrap();
        let out = output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut out = out.lock().unwrap();
                if out.port.is_none() {
                    out.port = line
                        .strip_prefix("listening ")
                        .and_then(|p| p.trim().parse().ok());
                }
                out.stdout.push(line);
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let err = output.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                err.lock()
                    .unwrap()
                    .stderr
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });

        let what = format!("node {script} to print `listening <port>`");
        let port = eventually(&what, START, || {
            let port = output.lock().unwrap().port;
            let exited = child.try_wait().unwrap();
            let output = output.clone();
            let script = script.to_owned();
            async move {
                if let Some(status) = exited {
                    let output = output.lock().unwrap();
                    panic!(
                        "node {script} exited ({status}) before listening; stdout: {:?}; stderr: {}",
                        output.stdout, output.stderr
                    );
                }
                port
            }
        })
        .await;
        Self {
            script: script.to_owned(),
            child,
            port,
            output,
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("an HTTP client"),
        }
    }

    /// `http://127.0.0.1:{port}{path}`; `path` starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every record so far (`GET /received`).
    pub async fn received(&self) -> Vec<Value> {
        let response = self
            .http
            .get(self.url("/received"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /received of {}: {e}; {}", self.script, self.log()));
        let body: Value = response.json().await.expect("/received answers JSON");
        body.as_array().expect("/received is an array").clone()
    }

    /// Waits until at least `count` records are there, and returns them all; fails, showing
    /// the records seen, when `within` passes first.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Value> {
        let what = format!("{count} records of {}", self.script);
        eventually(&what, within, || async {
            let received = self.received().await;
            if received.len() >= count {
                Ok(received)
            } else {
                Err(format!("{received:?}; {}", self.log()))
            }
        })
        .await
    }

    /// POSTs `body` as JSON to `path` with `headers`: the status.
    pub async fn post(&self, path: &str, body: &[u8], headers: &[(&str, &str)]) -> u16 {
        let mut request = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap().status().as_u16()
    }

    /// What the child printed, for failure messages.
    pub fn log(&self) -> String {
        let output = self.output.lock().unwrap();
        format!(
            "node {} printed {:?}, stderr {:?}",
            self.script, output.stdout, output.stderr
        )
    }
}

impl Drop for NodeReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
