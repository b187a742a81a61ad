//! `ferry dev`'s webhook receiver: an endpoint on loopback that checks each
//! delivery's `Ferry-Signature` and prints the event, the way a merchant's
//! server would receive it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use ferry_domain::WebhookSecret;
use ferry_domain::webhook::{SIGNATURE_HEADER, SIGNATURE_TOLERANCE_SECONDS, verify};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// A running receiver. It learns the endpoint's signing secret once the
/// endpoint is registered (the secret is shown only then).
#[derive(Clone)]
pub struct DevReceiver {
    address: SocketAddr,
    secret: Arc<OnceLock<WebhookSecret>>,
    verified: Arc<Mutex<Vec<VerifiedEvent>>>,
}

/// An event whose signature verified.
#[derive(Clone, Debug)]
pub struct VerifiedEvent {
    pub id: String,
    pub kind: String,
    pub session_id: String,
}

impl DevReceiver {
    /// Listens on `127.0.0.1` (a free port) and prints every delivery.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let receiver = Self {
            address: listener.local_addr()?,
            secret: Arc::new(OnceLock::new()),
            verified: Arc::new(Mutex::new(Vec::new())),
        };
        let shared = receiver.clone();
        tokio::spawn(async move {
            while let Ok((stream, _peer)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(shared.receive(request).await) }
                    });
                    let connection =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                    if let Err(error) = connection.await {
                        tracing::debug!(%error, "receiver connection closed with an error");
                    }
                });
            }
        });
        Ok(receiver)
    }

    /// The endpoint URL to register.
    pub fn url(&self) -> String {
        format!("http://{}/webhooks", self.address)
    }

    /// Sets the secret deliveries are checked with (the first one wins).
    pub fn set_secret(&self, secret: WebhookSecret) {
        let _already_set = self.secret.set(secret);
    }

    /// Waits up to `timeout` for a verified `kind` event about `session_id`.
    pub async fn wait_for(&self, kind: &str, session_id: &str, timeout: Duration) -> Option<VerifiedEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let found = self
                .verified
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .iter()
                .find(|event| event.kind == kind && event.session_id == session_id)
                .cloned();
            if found.is_some() || tokio::time::Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn receive(&self, request: hyper::Request<hyper::body::Incoming>) -> hyper::Response<Full<Bytes>> {
        let secret = self.secret.get();
        let signature = request.headers().get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
        let Ok(body) = request.into_body().collect().await.map(|b| b.to_bytes()) else {
            return reply(400);
        };
        let verified = match (secret, signature.as_deref()) {
            (Some(secret), Some(header)) => {
                verify(secret, header, &body, ferry_runtime::Clock::system().now(), SIGNATURE_TOLERANCE_SECONDS)
                    .map_err(|e| e.to_string())
            }
            (None, _) => Err("no endpoint secret yet".to_string()),
            (_, None) => Err(format!("no {SIGNATURE_HEADER} header")),
        };
        let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let text = |value: &serde_json::Value| value.as_str().unwrap_or("?").to_string();
        let (id, kind, session_id) =
            (text(&event["id"]), text(&event["type"]), text(&event["data"]["session"]["sessionId"]));
        let test = if event["isTestEvent"] == true { " (test event)" } else { "" };
        match verified {
            Ok(()) => {
                println!("  ⇢ webhook {kind} for session {session_id}{test}: signature verified");
                let event = VerifiedEvent { id, kind, session_id };
                self.verified.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(event);
                reply(204)
            }
            Err(why) => {
                println!("  ⇢ webhook {kind} for session {session_id}{test}: REJECTED, {why}");
                reply(401)
            }
        }
    }
}

fn reply(status: u16) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_REQUEST);
    response
}
