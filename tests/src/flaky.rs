//! A node that fails as public RPC providers do: a loopback HTTP proxy in
//! front of an anvil that answers some requests `503` without forwarding
//! them, holds some for seconds before forwarding, and cuts some answers off
//! halfway. Which request gets which fault comes from a seeded generator, so
//! a run can be repeated; the proxy counts what it did, so a test can show
//! the faults really happened.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use tokio::task::JoinHandle;

/// How often each fault strikes, as fractions of all requests.
#[derive(Clone, Copy, Debug)]
pub struct FaultProfile {
    /// Answered `503 Service Unavailable` without reaching the node.
    pub unavailable: f64,
    /// Held for `delay` before being forwarded.
    pub delayed: f64,
    pub delay: (Duration, Duration),
    /// Forwarded, but the answer is cut off at half its length.
    pub truncated: f64,
}

impl FaultProfile {
    /// The figures: 20 % unavailable, 10 % delayed 2–4 s, 2 % truncated.
    pub const PUBLIC_PROVIDER: Self = Self {
        unavailable: 0.20,
        delayed: 0.10,
        delay: (Duration::from_secs(2), Duration::from_secs(4)),
        truncated: 0.02,
    };
}

/// What the proxy did so far.
#[derive(Debug, Default)]
pub struct FaultCounts {
    pub requests: AtomicU64,
    pub unavailable: AtomicU64,
    pub delayed: AtomicU64,
    pub truncated: AtomicU64,
}

impl FaultCounts {
    pub fn snapshot(&self) -> [u64; 4] {
        [&self.requests, &self.unavailable, &self.delayed, &self.truncated].map(|count| count.load(Ordering::Relaxed))
    }
}

/// The running proxy; stops on drop.
pub struct FlakyNode {
    pub url: String,
    pub counts: Arc<FaultCounts>,
    task: JoinHandle<()>,
}

impl Drop for FlakyNode {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A seeded xorshift64* generator shared by a proxy's connections.
struct Dice(AtomicU64);

impl Dice {
    /// A number in `[0, 1)`.
    fn roll(&self) -> f64 {
        let mut x = self.0.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0.store(x, Ordering::Relaxed);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl FlakyNode {
    /// A proxy on a free loopback port in front of `upstream`.
    pub async fn start(upstream: &str, profile: FaultProfile, seed: u64) -> FlakyNode {
        let counts = Arc::new(FaultCounts::default());
        let shared = Arc::new(Shared {
            upstream: upstream.to_string(),
            client: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("HTTP client"),
            profile,
            dice: Dice(AtomicU64::new(seed | 1)),
            counts: Arc::clone(&counts),
        });
        let (url, task) = crate::loopback::serve(Arc::new(move |request| {
            let shared = Arc::clone(&shared);
            async move { shared.handle(request).await }
        }))
        .await;
        FlakyNode { url, counts, task }
    }
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    profile: FaultProfile,
    dice: Dice,
    counts: Arc<FaultCounts>,
}

fn answer(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(hyper::header::CONTENT_TYPE, "application/json".parse().expect("a header value"));
    response
}

impl Shared {
    async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        self.counts.requests.fetch_add(1, Ordering::Relaxed);
        let body = match request.into_body().collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return answer(StatusCode::BAD_REQUEST, "unreadable request"),
        };
        let roll = self.dice.roll();
        let profile = &self.profile;
        if roll < profile.unavailable {
            self.counts.unavailable.fetch_add(1, Ordering::Relaxed);
            return answer(StatusCode::SERVICE_UNAVAILABLE, "");
        }
        if roll < profile.unavailable + profile.delayed {
            self.counts.delayed.fetch_add(1, Ordering::Relaxed);
            let (low, high) = profile.delay;
            let fraction = self.dice.roll();
            tokio::time::sleep(low + (high - low).mul_f64(fraction)).await;
        }
        let truncate = roll >= 1.0 - profile.truncated;
        let forwarded = self
            .client
            .post(&self.upstream)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let Ok(forwarded) = forwarded else { return answer(StatusCode::BAD_GATEWAY, "") };
        let status = StatusCode::from_u16(forwarded.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let Ok(mut text) = forwarded.bytes().await else { return answer(StatusCode::BAD_GATEWAY, "") };
        if truncate {
            self.counts.truncated.fetch_add(1, Ordering::Relaxed);
            text = text.slice(..text.len() / 2);
        }
        answer(status, text)
    }
}
