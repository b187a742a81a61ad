//! `ferry dev`: the self-check that walks a session through the API over
//! real HTTP, and the walkthrough printed for a new user.

use bytes::Bytes;
use ferry_chains::evm::local;
use ferry_domain::ChainRegistry;

use crate::receiver::DevReceiver;
use crate::workers::RpcEndpoint;
use ferry_domain::WebhookSecret;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// How long the self-check waits for a paid session to settle.
const SETTLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90);

/// anvil's well-known test account #1, a fine place for test money to land.
pub const DEV_DESTINATION: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

#[derive(Debug, thiserror::Error)]
pub enum SelfCheckError {
    #[error("{step}: the request failed")]
    Http {
        step: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{step}: expected HTTP {expected}, got {status}: {body}")]
    Status { step: &'static str, expected: u16, status: u16, body: String },
    #[error("{step}: {problem}")]
    Unexpected { step: &'static str, problem: String },
}

/// What the self-check created.
#[derive(Debug)]
pub struct SelfCheck {
    pub session_id: String,
    pub client_secret: String,
    pub receiver_address: String,
    pub status: String,
    /// The webhook endpoint the self-check registered, if it did.
    pub webhook_id: Option<String>,
    /// The last event its receiver got, if any.
    pub event_id: Option<String>,
}

struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    base_url: String,
    api_key: String,
}

impl Http {
    async fn call(
        &self,
        step: &'static str,
        method: http::Method,
        path: &str,
        body: Option<Value>,
        authorized: bool,
        expected: u16,
    ) -> Result<Value, SelfCheckError> {
        let mut request = http::Request::builder().method(method).uri(format!("{}{path}", self.base_url));
        if authorized {
            request = request.header("authorization", format!("Bearer {}", self.api_key));
        }
        let payload = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let request = request
            .header("content-type", "application/json")
            .body(Full::new(payload))
            .map_err(|e| SelfCheckError::Http { step, source: Box::new(e) })?;
        let response =
            self.client.request(request).await.map_err(|e| SelfCheckError::Http { step, source: Box::new(e) })?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| SelfCheckError::Http { step, source: Box::new(e) })?
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if status != expected {
            return Err(SelfCheckError::Status { step, expected, status, body: text });
        }
        serde_json::from_str(&text).map_err(|e| SelfCheckError::Unexpected { step, problem: e.to_string() })
    }
}

fn field<'a>(value: &'a Value, step: &'static str, pointer: &str) -> Result<&'a str, SelfCheckError> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| SelfCheckError::Unexpected { step, problem: format!("no {pointer} in {value}") })
}

/// Creates a session on the first local chain, sets its EVM payment method,
/// reads both views and checks it, printing each step.
pub async fn self_check(
    base_url: &str,
    api_key: &str,
    registry: &ChainRegistry,
    chains: &[RpcEndpoint],
    webhooks: Option<&DevReceiver>,
) -> Result<SelfCheck, SelfCheckError> {
    let step = "choose a destination";
    let destination_chain = chains.first().map(|rpc| rpc.chain_id);
    let chain = match destination_chain {
        Some(id) => registry.chain(id),
        None => registry.chains().next(),
    }
    .ok_or(SelfCheckError::Unexpected { step, problem: "no destination chain in the registry".into() })?;
    let token = chain
        .tokens
        .first()
        .ok_or(SelfCheckError::Unexpected { step, problem: format!("{} has no tokens", chain.name) })?;
    let http = Http {
        client: Client::builder(TokioExecutor::new()).build_http(),
        base_url: base_url.to_string(),
        api_key: api_key.to_string(),
    };

    let mut webhook_id = None;
    if let Some(webhooks) = webhooks {
        webhook_id = Some(register_receiver(&http, webhooks).await?);
    }
    let mut event_id = None;

    let created = http
        .call(
            "create a session",
            http::Method::POST,
            "/v1/sessions",
            Some(json!({
                "destination": {
                    "type": "evm",
                    "address": DEV_DESTINATION,
                    "chainId": chain.id.get(),
                    "tokenAddress": token.address.to_string(),
                    "amountUnits": "10.00",
                },
                "display": {"title": "Ferry self-check", "verb": "Pay"},
                "metadata": {"source": "ferry dev"},
            })),
            true,
            201,
        )
        .await?;
    let session_id = field(&created, "create a session", "/session/sessionId")?.to_string();
    let client_secret = field(&created, "create a session", "/session/clientSecret")?.to_string();
    println!("  ✓ created session {session_id}: {}", field(&created, "create a session", "/session/status")?);

    let path = format!("/v1/sessions/{session_id}/paymentMethods");
    let body = json!({"clientSecret": client_secret, "paymentMethod": {"type": "evm"}});
    let with_method =
        http.call("set the EVM payment method", http::Method::POST, &path, Some(body), false, 200).await?;
    let receiver =
        field(&with_method, "set the EVM payment method", "/session/paymentMethod/receiverAddress")?.to_string();
    println!(
        "  ✓ EVM payment method set: deposit address {receiver} on every chain; status {}",
        field(&with_method, "set the EVM payment method", "/session/status")?
    );

    let step = "read the merchant's view";
    let full = http.call(step, http::Method::GET, &format!("/v1/sessions/{session_id}"), None, true, 200).await?;
    if field(&full, step, "/session/clientSecret")? != client_secret {
        return Err(SelfCheckError::Unexpected { step, problem: "the full view lacks the client secret".into() });
    }
    let step = "read the public view";
    let public = http.call(step, http::Method::GET, &format!("/v1/sessions/{session_id}"), None, false, 200).await?;
    if public.pointer("/session/clientSecret").is_some() {
        return Err(SelfCheckError::Unexpected { step, problem: "the public view shows the client secret".into() });
    }
    println!("  ✓ read the merchant's view and the public view");

    let step = "check the session";
    let path = format!("/v1/sessions/{session_id}/check");
    let checked =
        http.call(step, http::Method::PUT, &path, Some(json!({"clientSecret": client_secret})), false, 200).await?;
    let mut status = field(&checked, step, "/session/status")?.to_string();
    println!("  ✓ checked the session: {status}");

    // With chains: pay from the payer's test wallet on the other chain and
    // watch the session until it settles.
    if let Some(source) = chains.get(1).or(chains.first()) {
        let step = "pay the session";
        let receiver_address: alloy_primitives::Address = receiver
            .parse()
            .map_err(|_| SelfCheckError::Unexpected { step, problem: format!("bad receiver {receiver}") })?;
        let amount = alloy_primitives::U256::from(10_000_000u64);
        let tx = local::pay_from_test_wallet(source.chain_id, &source.url, receiver_address, amount)
            .await
            .map_err(|e| SelfCheckError::Http { step, source: Box::new(e) })?;
        println!("  ✓ paid 10.00 USDC from the test wallet on chain {} (tx {tx})", source.chain_id);
        status = wait_until_settled(&http, &session_id, status).await?;
        if let Some(webhooks) = webhooks {
            event_id = Some(check_webhooks(&http, webhooks, &session_id).await?);
        }
    }
    Ok(SelfCheck { session_id, client_secret, receiver_address: receiver, status, webhook_id, event_id })
}

/// How long the self-check waits for a webhook delivery.
const WEBHOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Registers the local receiver as a webhook endpoint, through the API, and
/// hands it the signing secret (shown only in this answer). Returns the
/// endpoint's id.
async fn register_receiver(http: &Http, receiver: &DevReceiver) -> Result<String, SelfCheckError> {
    let step = "register a webhook endpoint";
    let body = json!({"url": receiver.url(), "description": "ferry dev's receiver"});
    let created = http.call(step, http::Method::POST, "/v1/webhooks", Some(body), true, 201).await?;
    let secret: WebhookSecret =
        field(&created, step, "/webhook/secret")?.parse().map_err(|e: ferry_domain::webhook::WebhookSecretError| {
            SelfCheckError::Unexpected { step, problem: e.to_string() }
        })?;
    receiver.set_secret(secret);
    let id = field(&created, step, "/webhook/id")?.to_string();
    println!("  ✓ registered webhook endpoint {id} at {}: its deliveries are printed below", receiver.url());
    Ok(id)
}

/// Waits for the session's `processing` and `succeeded` events at the
/// receiver, then reads the last one's delivery log through the API.
/// Returns that event's id.
async fn check_webhooks(http: &Http, receiver: &DevReceiver, session_id: &str) -> Result<String, SelfCheckError> {
    let step = "receive the webhook events";
    let mut last = None;
    for kind in ["session.processing", "session.succeeded"] {
        let event = receiver.wait_for(kind, session_id, WEBHOOK_TIMEOUT).await.ok_or_else(|| {
            SelfCheckError::Unexpected { step, problem: format!("no signed {kind} event within {WEBHOOK_TIMEOUT:?}") }
        })?;
        last = Some(event);
    }
    let Some(event) = last else {
        return Err(SelfCheckError::Unexpected { step, problem: "no event was awaited".into() });
    };
    let step = "read the event's delivery log";
    let log = http.call(step, http::Method::GET, &format!("/v1/events/{}", event.id), None, true, 200).await?;
    let attempts = log.pointer("/deliveries/0/attempts").and_then(serde_json::Value::as_array).map_or(0, Vec::len);
    println!(
        "  ✓ GET /v1/events/{}: {} delivery, {} after {attempts} attempt(s)",
        event.id,
        event.kind,
        log.pointer("/deliveries/0/status").and_then(serde_json::Value::as_str).unwrap_or("?"),
    );
    Ok(event.id)
}

/// Polls the public view until the session ends, printing each status.
async fn wait_until_settled(http: &Http, session_id: &str, mut status: String) -> Result<String, SelfCheckError> {
    let step = "wait for the session to settle";
    let deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
    loop {
        let view = http.call(step, http::Method::GET, &format!("/v1/sessions/{session_id}"), None, false, 200).await?;
        let now = field(&view, step, "/session/status")?.to_string();
        if now != status {
            println!("  → {now}");
            status = now;
        }
        match status.as_str() {
            "succeeded" => {
                let delivery = &view["session"]["destination"]["delivery"];
                println!(
                    "  ✓ delivered {} USDC to the destination in {}",
                    delivery["receivedUnits"].as_str().unwrap_or("?"),
                    delivery["txHash"].as_str().unwrap_or("?")
                );
                return Ok(status);
            }
            "bounced" | "expired" => {
                return Err(SelfCheckError::Unexpected { step, problem: format!("the session ended {status}") });
            }
            _ if tokio::time::Instant::now() > deadline => {
                return Err(SelfCheckError::Unexpected {
                    step,
                    problem: format!("still {status} after {SETTLE_TIMEOUT:?}"),
                });
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
        }
    }
}

/// The copy-paste walkthrough.
pub fn walkthrough(base_url: &str, api_key: &str, registry: &ChainRegistry, check: &SelfCheck) -> String {
    let (chain_id, token) = registry
        .chains()
        .next()
        .and_then(|chain| chain.tokens.first().map(|token| (chain.id.get(), token.address.to_string())))
        .unwrap_or_default();
    format!(
        r#"
Try it yourself (the API key is shown only now; `ferry api-key create` makes more):

  export FERRY={base_url} FERRY_KEY={api_key}

  # 1. The merchant creates a session (save sessionId and clientSecret from the answer):
  curl -s -X POST $FERRY/v1/sessions -H "Authorization: Bearer $FERRY_KEY" \
    -H 'Content-Type: application/json' -H 'Idempotency-Key: order-1' \
    -d '{{"destination":{{"type":"evm","address":"{DEV_DESTINATION}","chainId":{chain_id},"tokenAddress":"{token}","amountUnits":"10.00"}},"display":{{"title":"Order #1","verb":"Pay"}}}}'

  # 2. The payer's client asks for the deposit address:
  curl -s -X POST $FERRY/v1/sessions/{session}/paymentMethods \
    -H 'Content-Type: application/json' -d '{{"clientSecret":"{secret}","paymentMethod":{{"type":"evm"}}}}'

  # 3. Anyone with the id reads the public view; the merchant's key shows the full session:
  curl -s $FERRY/v1/sessions/{session}
  curl -s $FERRY/v1/sessions/{session} -H "Authorization: Bearer $FERRY_KEY"

  # 4. The payer's client asks Ferry to check, optionally naming its transaction:
  curl -s -X PUT $FERRY/v1/sessions/{session}/check \
    -H 'Content-Type: application/json' -d '{{"clientSecret":"{secret}"}}'

  # 5. The payer's client lists the tokens it can pay with, and the wallet's balances
  #    (on the chains `ferry serve --rpc` has a node for):
  curl -s "$FERRY/v1/sessions/{session}/tokenOptions?clientSecret={secret}&evmAddress={payer}"

  # 6. The merchant's webhook endpoints (the one above is `ferry dev`'s receiver, which
  #    prints what it gets); send one a test event, read an event's delivery log:
  curl -s $FERRY/v1/webhooks -H "Authorization: Bearer $FERRY_KEY"
  curl -s -X POST $FERRY/v1/webhooks/{webhook}/test -H "Authorization: Bearer $FERRY_KEY" \
    -H 'Content-Type: application/json' -d '{{"eventType":"session.succeeded"}}'
  curl -s $FERRY/v1/events/{event} -H "Authorization: Bearer $FERRY_KEY"

  # The whole contract:
  curl -s $FERRY/openapi.json
"#,
        session = check.session_id,
        secret = check.client_secret,
        payer = local::signer(local::PAYER_KEY).address(),
        webhook = check.webhook_id.as_deref().unwrap_or("<webhook id>"),
        event = check.event_id.as_deref().unwrap_or("<event id>"),
    )
}
