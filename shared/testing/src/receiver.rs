//! A webhook endpoint on loopback that answers with scripted statuses and
//! keeps every request it got.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct ReceivedRequest {
    pub method: String,
    pub path: String,
    /// The `Ferry-Signature` header, if any.
    pub signature: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl ReceivedRequest {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the delivery body is JSON")
    }
}

/// How the receiver answers one request.
#[derive(Clone, Copy, Debug)]
pub enum Reply {
    Status(u16),
    /// Answers 200, but only after this long (longer than the sender waits).
    Stall(Duration),
}

#[derive(Default)]
struct Shared {
    script: VecDeque<Reply>,
    fallback: Option<Reply>,
    received: Vec<ReceivedRequest>,
}

/// A receiver on `127.0.0.1` (stops with the runtime).
#[derive(Clone)]
pub struct WebhookReceiver {
    address: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

impl WebhookReceiver {
    /// Answers with `script` in order, then with `then` for ever.
    pub async fn start(script: impl IntoIterator<Item = Reply>, then: Reply) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the receiver");
        let address = listener.local_addr().expect("address");
        let shared = Arc::new(Mutex::new(Shared {
            script: script.into_iter().collect(),
            fallback: Some(then),
            received: Vec::new(),
        }));
        let state = Arc::clone(&shared);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                        let state = Arc::clone(&state);
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = body.collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
                            let header =
                                |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
                            let reply = {
                                let mut shared = state.lock().expect("lock");
                                shared.received.push(ReceivedRequest {
                                    method: parts.method.to_string(),
                                    path: parts.uri.path().to_string(),
                                    signature: header("ferry-signature"),
                                    content_type: header("content-type"),
                                    body,
                                });
                                let fallback = shared.fallback.unwrap_or(Reply::Status(200));
                                shared.script.pop_front().unwrap_or(fallback)
                            };
                            let status = match reply {
                                Reply::Status(status) => status,
                                Reply::Stall(wait) => {
                                    tokio::time::sleep(wait).await;
                                    200
                                }
                            };
                            let response = hyper::Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::from_static(b"ok")))
                                .expect("response");
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _closed = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { address, shared }
    }

    /// Always answers 200.
    pub async fn accepting() -> Self {
        Self::start([], Reply::Status(200)).await
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://127.0.0.1:<port>/hooks`.
    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.address)
    }

    /// Every request so far, oldest first.
    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.shared.lock().expect("lock").received.clone()
    }

    /// Waits (bounded) until at least `count` requests arrived.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedRequest> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the receiver got {} requests within {timeout:?}, expected {count}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
