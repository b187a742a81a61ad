//! One signed POST to one endpoint, refusing addresses a delivery must not
//! reach.
//!
//! An endpoint's URL was checked when it was registered, but a host *name*
//! can resolve anywhere, and differently from one minute to the next. So
//! the HTTP client resolves names through [`GuardedResolver`], which drops
//! every address [`forbidden_address`] refuses (loopback too, unless the
//! deployment allows loopback endpoints for development) and fails when
//! none is left. The connection then goes to an address that passed the
//! check: no second lookup an attacker's DNS could answer differently.
//! Proxies from the environment are ignored (a proxy would resolve the name
//! itself) and redirects are not followed (a 3xx is a failed attempt).
//! The URL's port is checked again too (443 only, unless the deployment
//! allows others), since the policy may have changed since registration.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_domain::webhook::{AddressClass, SIGNATURE_HEADER, forbidden_address, sign};
use ferry_domain::{AttemptOutcome, DeliveryAttempt, Timestamp, UrlPolicy, WebhookSecret, WebhookUrl};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// How long an endpoint has to answer.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

const USER_AGENT: &str = concat!("Ferry-Webhooks/", env!("CARGO_PKG_VERSION"));

/// How host names are turned into addresses.
#[derive(Clone, Debug, Default)]
pub enum HostLookup {
    /// The operating system's resolver.
    #[default]
    System,
    /// A fixed table of names (tests: a public-looking name that resolves
    /// to a loopback or private address, without a DNS server).
    Static(Arc<HashMap<String, Vec<IpAddr>>>),
}

/// A host that resolves only to addresses deliveries must not reach.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves only to {class} addresses, which webhooks may not reach")]
pub struct RefusedHost {
    pub host: String,
    pub class: AddressClass,
}

/// The reqwest resolver that applies the address rules (module docs).
#[derive(Clone, Debug)]
pub struct GuardedResolver {
    lookup: HostLookup,
    policy: UrlPolicy,
}

impl GuardedResolver {
    pub fn new(lookup: HostLookup, policy: UrlPolicy) -> Self {
        Self { lookup, policy }
    }

    /// The addresses of `host` deliveries may go to.
    pub async fn resolve_host(&self, host: &str) -> Result<Vec<SocketAddr>, ResolveError> {
        let resolved: Vec<IpAddr> = match &self.lookup {
            HostLookup::System => tokio::net::lookup_host((host, 0)).await?.map(|addr| addr.ip()).collect(),
            HostLookup::Static(table) => table.get(host).cloned().unwrap_or_default(),
        };
        if resolved.is_empty() {
            return Err(ResolveError::NoAddress(host.to_string()));
        }
        let mut refused = None;
        let allowed: Vec<SocketAddr> = resolved
            .into_iter()
            .filter(|ip| match refusal(*ip, self.policy) {
                None => true,
                Some(class) => {
                    refused = Some(class);
                    false
                }
            })
            .map(|ip| SocketAddr::new(ip, 0))
            .collect();
        match (allowed.is_empty(), refused) {
            (true, Some(class)) => Err(ResolveError::Refused(RefusedHost { host: host.to_string(), class })),
            _ => Ok(allowed),
        }
    }
}

/// Why a host name gave no address to deliver to.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Refused(RefusedHost),
    #[error("{0} does not resolve")]
    NoAddress(String),
    #[error("cannot resolve the host")]
    Lookup(#[from] std::io::Error),
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.clone();
        Box::pin(async move {
            let addrs = resolver.resolve_host(name.as_str()).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Why `ip` may not receive deliveries under `policy`, if it may not.
fn refusal(ip: IpAddr, policy: UrlPolicy) -> Option<AddressClass> {
    match forbidden_address(ip) {
        Some(AddressClass::Loopback) if policy.allow_insecure_loopback => None,
        other => other,
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build the webhook HTTP client")]
pub struct SenderError(#[source] reqwest::Error);

/// Sends signed deliveries.
#[derive(Clone, Debug)]
pub struct WebhookSender {
    client: reqwest::Client,
    policy: UrlPolicy,
}

impl WebhookSender {
    /// A sender resolving names with the system resolver.
    pub fn new(policy: UrlPolicy) -> Result<Self, SenderError> {
        Self::with_lookup(policy, HostLookup::System)
    }

    pub fn with_lookup(policy: UrlPolicy, lookup: HostLookup) -> Result<Self, SenderError> {
        let client = reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            .connect_timeout(DELIVERY_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(USER_AGENT)
            .dns_resolver(Arc::new(GuardedResolver::new(lookup, policy)))
            .build()
            .map_err(SenderError)?;
        Ok(Self { client, policy })
    }

    /// POSTs `body` to `url`, signed with `secret` at `now`: the attempt as
    /// the delivery log keeps it. Never fails: whatever went wrong is the
    /// attempt's outcome.
    pub async fn send(&self, url: &WebhookUrl, secret: &WebhookSecret, body: &[u8], now: Timestamp) -> DeliveryAttempt {
        let started = Instant::now();
        let outcome = if let Some(refused) = self.refused_literal(url) {
            AttemptOutcome::Failed { error: refused.to_string() }
        } else if let Err(port) = url.check_port(self.policy) {
            // Registered when the deployment allowed other ports, or before it checked them.
            AttemptOutcome::Failed { error: format!("the endpoint URL {port}") }
        } else {
            self.post(url, secret, body, now).await
        };
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        DeliveryAttempt { at: now, outcome, latency_ms }
    }

    /// An IP-literal host is never resolved, so it is checked here.
    fn refused_literal(&self, url: &WebhookUrl) -> Option<RefusedHost> {
        let ip = match url.host()? {
            url::Host::Ipv4(ip) => IpAddr::V4(ip),
            url::Host::Ipv6(ip) => IpAddr::V6(ip),
            url::Host::Domain(_) => return None,
        };
        refusal(ip, self.policy).map(|class| RefusedHost { host: ip.to_string(), class })
    }

    async fn post(&self, url: &WebhookUrl, secret: &WebhookSecret, body: &[u8], now: Timestamp) -> AttemptOutcome {
        let request = self
            .client
            .post(url.as_str())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, sign(secret, now, body))
            .body(body.to_vec());
        match request.send().await {
            Ok(response) => AttemptOutcome::Responded { status: response.status().as_u16() },
            Err(error) => AttemptOutcome::Failed { error: describe(error) },
        }
    }
}

/// What went wrong, for the delivery log: never the URL (merchants put
/// tokens in them).
fn describe(error: reqwest::Error) -> String {
    if error.is_timeout() {
        return format!("no answer within {} s", DELIVERY_TIMEOUT.as_secs());
    }
    let error = error.without_url();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    let mut parts: Vec<String> = Vec::new();
    while let Some(current) = source {
        if let Some(ResolveError::Refused(refused)) = current.downcast_ref::<ResolveError>() {
            return refused.to_string();
        }
        let text = current.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = current.source();
    }
    parts.join(": ")
}
