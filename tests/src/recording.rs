//! A loopback HTTP proxy that forwards every request unchanged and records
//! it with its answer, so a test can count what a component really asked a
//! service (DynamoDB and SQS operations on moto, JSON-RPC methods on anvil)
//! and how big the items were.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use tokio::task::JoinHandle;

/// One forwarded request and its answer.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// The `X-Amz-Target` header (`DynamoDB_20120810.GetItem`,
    /// `AmazonSQS.SendMessage`), if any.
    pub target: Option<String>,
    pub request: Bytes,
    pub response: Bytes,
}

/// The running proxy; stops on drop.
pub struct RecordingProxy {
    pub url: String,
    log: Arc<Mutex<Vec<Exchange>>>,
    task: JoinHandle<()>,
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Headers not forwarded: the connection's own, rebuilt by each hop.
const HOP_BY_HOP: [&str; 4] = ["host", "content-length", "connection", "transfer-encoding"];

impl RecordingProxy {
    /// A proxy on a free loopback port in front of `upstream`.
    pub async fn start(upstream: &str) -> RecordingProxy {
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            client: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("HTTP client"),
            log: Arc::clone(&log),
        });
        let (url, task) = crate::loopback::serve(Arc::new(move |request| {
            let shared = Arc::clone(&shared);
            async move { shared.forward(request).await }
        }))
        .await;
        RecordingProxy { url, log, task }
    }

    /// Everything recorded since the last call, oldest first.
    pub fn take(&self) -> Vec<Exchange> {
        std::mem::take(&mut *self.log.lock().expect("the log"))
    }
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    log: Arc<Mutex<Vec<Exchange>>>,
}

impl Shared {
    async fn forward(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let Ok(body) = body.collect().await.map(|collected| collected.to_bytes()) else {
            return failure(StatusCode::BAD_REQUEST);
        };
        let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).unwrap_or(reqwest::Method::POST);
        let mut forwarded = self.client.request(method, format!("{}{path}", self.upstream)).body(body.clone());
        for (name, value) in &parts.headers {
            if !HOP_BY_HOP.contains(&name.as_str()) {
                forwarded = forwarded.header(name.as_str(), value.as_bytes());
            }
        }
        let Ok(answer) = forwarded.send().await else { return failure(StatusCode::BAD_GATEWAY) };
        let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let headers = answer.headers().clone();
        let Ok(text) = answer.bytes().await else { return failure(StatusCode::BAD_GATEWAY) };
        let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).map(str::to_string);
        self.log.lock().expect("the log").push(Exchange { target, request: body, response: text.clone() });
        let mut response = Response::new(Full::new(text));
        *response.status_mut() = status;
        for (name, value) in &headers {
            if !HOP_BY_HOP.contains(&name.as_str())
                && let (Ok(name), Ok(value)) = (
                    hyper::header::HeaderName::from_bytes(name.as_str().as_bytes()),
                    hyper::header::HeaderValue::from_bytes(value.as_bytes()),
                )
            {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

fn failure(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}
