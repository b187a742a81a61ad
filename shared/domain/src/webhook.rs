//! Webhook endpoints: where a merchant wants to hear about its sessions, which
//! events it wants, and the secret that signs each delivery.
//!
//! - [`WebhookId`]: `wh_` followed by 32 lowercase hex characters (128
//!   random bits), so an endpoint id is never mistaken for a session id.
//! - [`EventSelection`]: `["*"]` (every event, including ones added later) or
//!   a non-empty set of session events. Duplicates are tolerated and
//!   collapsed; `"*"` must stand alone.
//! - [`WebhookSecret`]: `whsec_` followed by 64 lowercase hex characters
//!   (256 random bits). `Debug` never prints it; the API shows it once, when
//!   the endpoint is created. The whole text, prefix included, is the HMAC key.
//! - [`WebhookUrl`]: `https` only (plain `http` to loopback when the
//!   deployment allows it for development), at most 2048 characters, no
//!   credentials, no fragment, and a host that is not an IP literal in a
//!   private, loopback, link-local (the cloud metadata address), unique-local,
//!   multicast, unspecified or otherwise reserved range (IPv6 forms that
//!   carry an IPv4 address are judged by it: [`forbidden_address`]), on port
//!   443 unless the policy allows other ports. A host *name* is checked
//!   again when it is resolved, at delivery, and the port again too.
//! - [`sign`] and [`verify`]: the `Ferry-Signature` header,
//!   `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::ids::{parse_hex32, string_serde};
use crate::session::EventKind;
pub use crate::webhook_address::{AddressClass, forbidden_address};
use crate::{MerchantId, Timestamp};

/// How many endpoints one merchant may have.
pub const MAX_WEBHOOKS_PER_MERCHANT: usize = 16;
/// The longest accepted endpoint URL, in characters.
pub const MAX_WEBHOOK_URL_CHARS: usize = 2048;
/// The longest accepted description, in characters.
pub const MAX_WEBHOOK_DESCRIPTION_CHARS: usize = 500;
/// How old (or how far in the future) a signature's timestamp may be.
pub const SIGNATURE_TOLERANCE_SECONDS: u64 = 300;
/// The header a delivery's signature travels in.
pub const SIGNATURE_HEADER: &str = "Ferry-Signature";

// ---------------------------------------------------------------------- id

const ID_PREFIX: &str = "wh_";

/// A webhook endpoint's identifier: `wh_` and 32 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WebhookId([u8; 16]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be `wh_` followed by 32 lowercase hexadecimal characters")]
pub struct WebhookIdError;

impl WebhookId {
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }
}

impl FromStr for WebhookId {
    type Err = WebhookIdError;
    fn from_str(s: &str) -> Result<Self, WebhookIdError> {
        let hex = s.strip_prefix(ID_PREFIX).ok_or(WebhookIdError)?;
        parse_hex32(hex).map(Self).map_err(|_| WebhookIdError)
    }
}

impl fmt::Display for WebhookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{ID_PREFIX}{}", hex::encode(self.0))
    }
}

impl fmt::Debug for WebhookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookId({self})")
    }
}
string_serde!(WebhookId);

// ------------------------------------------------------------------ secret

const SECRET_PREFIX: &str = "whsec_";

/// The secret that signs an endpoint's deliveries: `whsec_` and 64
/// lowercase hex characters. Equality is constant-time; `Debug` redacts it.
#[derive(Clone)]
pub struct WebhookSecret([u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be `whsec_` followed by 64 lowercase hexadecimal characters")]
pub struct WebhookSecretError;

impl WebhookSecret {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The secret's text, to show the merchant once, at creation. It is
    /// also the HMAC key.
    pub fn reveal(&self) -> String {
        format!("{SECRET_PREFIX}{}", hex::encode(self.0))
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length; this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(self.reveal().as_bytes()).unwrap_or_else(|_| unreachable!())
    }
}

impl PartialEq for WebhookSecret {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}
impl Eq for WebhookSecret {}

impl FromStr for WebhookSecret {
    type Err = WebhookSecretError;
    fn from_str(s: &str) -> Result<Self, WebhookSecretError> {
        let hex = s.strip_prefix(SECRET_PREFIX).ok_or(WebhookSecretError)?;
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(WebhookSecretError);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex, &mut out).map_err(|_| WebhookSecretError)?;
        Ok(Self(out))
    }
}

/// Prints the secret: only for storage (serde) and the creation response.
impl fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reveal())
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}
string_serde!(WebhookSecret);

// ------------------------------------------------------------------ events

/// The events an endpoint subscribes to; by default all of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum EventSelection {
    /// `"*"`: every event, including ones Ferry adds later.
    #[default]
    All,
    /// These events, without duplicates, in [`EventSelection::KINDS`] order.
    Only(Vec<EventKind>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventSelectionError {
    #[error("must name at least one event (or \"*\" for all)")]
    Empty,
    #[error(
        "has unknown event `{0}`; expected \"*\", \"session.processing\", \"session.succeeded\", \"session.bounced\" or \"session.expired\""
    )]
    Unknown(String),
    #[error("may contain \"*\" only on its own")]
    WildcardWithOthers,
}

impl EventSelection {
    /// Every event kind, in the order selections list them.
    pub const KINDS: [EventKind; 4] =
        [EventKind::Processing, EventKind::Succeeded, EventKind::Bounced, EventKind::Expired];

    /// Parses the API's `events` array. Duplicates are collapsed.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, EventSelectionError> {
        if names.is_empty() {
            return Err(EventSelectionError::Empty);
        }
        let mut wildcard = false;
        let mut chosen = [false; 4];
        for name in names {
            let name = name.as_ref();
            if name == "*" {
                wildcard = true;
                continue;
            }
            let index = Self::KINDS
                .iter()
                .position(|kind| kind.as_str() == name)
                .ok_or_else(|| EventSelectionError::Unknown(name.chars().take(64).collect()))?;
            chosen[index] = true;
        }
        match (wildcard, chosen.iter().any(|c| *c)) {
            (true, false) => Ok(Self::All),
            (true, true) => Err(EventSelectionError::WildcardWithOthers),
            (false, _) => {
                Ok(Self::Only(Self::KINDS.iter().zip(chosen).filter(|(_, c)| *c).map(|(kind, _)| *kind).collect()))
            }
        }
    }

    /// Whether an endpoint with this selection gets `kind`.
    pub fn includes(&self, kind: EventKind) -> bool {
        match self {
            Self::All => true,
            Self::Only(kinds) => kinds.contains(&kind),
        }
    }

    /// The selection as the API writes it: `["*"]` or the event names.
    pub fn names(&self) -> Vec<&'static str> {
        match self {
            Self::All => vec!["*"],
            Self::Only(kinds) => kinds.iter().map(|kind| kind.as_str()).collect(),
        }
    }
}

impl Serialize for EventSelection {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.names().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for EventSelection {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        Self::parse(&names).map_err(serde::de::Error::custom)
    }
}

// --------------------------------------------------------------------- url

/// What a deployment allows beyond `https` to public hosts on port 443.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    /// Development only: allow loopback hosts (`127.0.0.0/8`, `::1`,
    /// `localhost`), over `http` as well as `https`, on any port.
    pub allow_insecure_loopback: bool,
    /// Allow ports other than 443 on public hosts. Off by default: an
    /// endpoint on an odd port is more often an internal service reached
    /// through a public name than a merchant's receiver.
    pub allow_any_port: bool,
}

impl UrlPolicy {
    /// A deployment's default: `https` to public hosts on port 443 only.
    pub const PRODUCTION: Self = Self { allow_insecure_loopback: false, allow_any_port: false };
    /// Local development: loopback receivers over `http` on any port too.
    pub const DEVELOPMENT: Self = Self { allow_insecure_loopback: true, allow_any_port: false };
}

/// A URL deliveries may be sent to (see the module documentation).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(url::Url);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlError {
    #[error("must be at most {MAX_WEBHOOK_URL_CHARS} characters")]
    TooLong,
    #[error("must not contain whitespace or control characters")]
    Whitespace,
    #[error("is not a valid URL: {0}")]
    Malformed(String),
    #[error("must use https")]
    NotHttps,
    #[error("must use https (plain http is allowed only to a loopback host in development)")]
    HttpNotLoopback,
    #[error("must not contain a username or password")]
    Credentials,
    #[error("must not contain a fragment (`#...`)")]
    Fragment,
    #[error("must have a host")]
    NoHost,
    #[error("must not point at a {0} address")]
    ForbiddenAddress(AddressClass),
    #[error("must use port 443 (this deployment does not allow port {0})")]
    Port(u16),
}

fn is_localhost_name(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    host == "localhost" || host.ends_with(".localhost")
}

impl WebhookUrl {
    /// Parses and checks an endpoint URL. The URL kept is the normalized
    /// form (lowercase scheme and host, `/` for an empty path).
    pub fn parse(text: &str, policy: UrlPolicy) -> Result<Self, WebhookUrlError> {
        if text.chars().count() > MAX_WEBHOOK_URL_CHARS {
            return Err(WebhookUrlError::TooLong);
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(WebhookUrlError::Whitespace);
        }
        let url = url::Url::parse(text).map_err(|e| WebhookUrlError::Malformed(e.to_string()))?;
        let https = match url.scheme() {
            "https" => true,
            "http" if policy.allow_insecure_loopback => false,
            _ => return Err(WebhookUrlError::NotHttps),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(WebhookUrlError::Credentials);
        }
        if url.fragment().is_some() {
            return Err(WebhookUrlError::Fragment);
        }
        let loopback = match url.host().ok_or(WebhookUrlError::NoHost)? {
            url::Host::Domain("") => return Err(WebhookUrlError::NoHost),
            url::Host::Domain(name) => is_localhost_name(name),
            url::Host::Ipv4(ip) => check_ip(IpAddr::V4(ip), policy)?,
            url::Host::Ipv6(ip) => check_ip(IpAddr::V6(ip), policy)?,
        };
        if loopback && !policy.allow_insecure_loopback {
            return Err(WebhookUrlError::ForbiddenAddress(AddressClass::Loopback));
        }
        if !https && !loopback {
            return Err(WebhookUrlError::HttpNotLoopback);
        }
        check_port(&url, loopback, policy)?;
        if url.as_str().chars().count() > MAX_WEBHOOK_URL_CHARS {
            return Err(WebhookUrlError::TooLong);
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The host as the URL names it (a domain, or an IP literal).
    pub fn host(&self) -> Option<url::Host<&str>> {
        self.0.host()
    }

    /// Whether `policy` allows this URL's port: a stored URL is checked
    /// again at delivery, as the deployment's policy may have changed since
    /// it was registered.
    pub fn check_port(&self, policy: UrlPolicy) -> Result<(), WebhookUrlError> {
        let loopback = match self.0.host() {
            Some(url::Host::Domain(name)) => is_localhost_name(name),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        check_port(&self.0, loopback, policy)
    }
}

/// Port 443, any port when the policy allows it, and when loopback endpoints
/// are allowed (development receivers) any port on a loopback host or over
/// plain `http` (which [`WebhookUrl::parse`] accepts only to loopback hosts;
/// at delivery the resolver then keeps the connection to loopback or public
/// addresses).
fn check_port(url: &url::Url, loopback: bool, policy: UrlPolicy) -> Result<(), WebhookUrlError> {
    let development = policy.allow_insecure_loopback && (loopback || url.scheme() == "http");
    match url.port_or_known_default() {
        Some(443) => Ok(()),
        _ if policy.allow_any_port || development => Ok(()),
        port => Err(WebhookUrlError::Port(port.unwrap_or(0))),
    }
}

/// `Ok(true)` for a loopback address (the caller decides), an error for
/// any other forbidden one.
fn check_ip(ip: IpAddr, _policy: UrlPolicy) -> Result<bool, WebhookUrlError> {
    match forbidden_address(ip) {
        None => Ok(false),
        Some(AddressClass::Loopback) => Ok(true),
        Some(class) => Err(WebhookUrlError::ForbiddenAddress(class)),
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl({})", self.as_str())
    }
}

impl Serialize for WebhookUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Stored URLs were checked when they were created; reading them back only
/// parses them (the deployment's policy may have changed since, and
/// delivery checks resolved addresses anyway).
impl<'de> Deserialize<'de> for WebhookUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        url::Url::parse(&text).map(Self).map_err(serde::de::Error::custom)
    }
}

// ------------------------------------------------------------- description

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be at most {MAX_WEBHOOK_DESCRIPTION_CHARS} characters")]
pub struct DescriptionTooLong;

/// Checks an endpoint's description: at most 500 characters; empty means none.
pub fn parse_description(text: Option<String>) -> Result<Option<String>, DescriptionTooLong> {
    match text {
        Some(text) if text.chars().count() > MAX_WEBHOOK_DESCRIPTION_CHARS => Err(DescriptionTooLong),
        Some(text) if text.is_empty() => Ok(None),
        other => Ok(other),
    }
}

// ---------------------------------------------------------------- endpoint

/// A merchant's webhook endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: WebhookId,
    pub merchant_id: MerchantId,
    pub url: WebhookUrl,
    pub events: EventSelection,
    pub description: Option<String>,
    pub secret: WebhookSecret,
    pub created_at: Timestamp,
}

// --------------------------------------------------------------- signature

type HmacSha256 = Hmac<Sha256>;

/// The `Ferry-Signature` header for `body` sent at `timestamp`:
/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn sign(secret: &WebhookSecret, timestamp: Timestamp, body: &[u8]) -> String {
    let t = timestamp.unix_seconds();
    format!("t={t},v1={}", hex::encode(signature(secret, t, body)))
}

fn signature(secret: &WebhookSecret, t: u64, body: &[u8]) -> [u8; 32] {
    let mut mac: HmacSha256 = secret.mac();
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the signature header is malformed: {0}")]
    Malformed(&'static str),
    #[error("no signature in the header matches the body")]
    Mismatch,
    #[error("the signature's timestamp is more than the tolerance away from now")]
    Stale,
}

/// Checks a `Ferry-Signature` header against `body`: some `v1` must be the
/// HMAC of `"<t>.<body>"` (compared in constant time), and `t` must be
/// within `tolerance_seconds` of `now`. Unknown keys are ignored (later
/// schemes); several `v1` entries are allowed (secret rotation).
pub fn verify(
    secret: &WebhookSecret,
    header: &str,
    body: &[u8],
    now: Timestamp,
    tolerance_seconds: u64,
) -> Result<(), VerifyError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        let (key, value) = part.trim().split_once('=').ok_or(VerifyError::Malformed("expected key=value pairs"))?;
        match key {
            "t" => {
                if timestamp.is_some() {
                    return Err(VerifyError::Malformed("more than one `t`"));
                }
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(VerifyError::Malformed("`t` must be unix seconds"));
                }
                timestamp = Some(value.parse::<u64>().map_err(|_| VerifyError::Malformed("`t` is out of range"))?);
            }
            "v1" => {
                let mut bytes = [0u8; 32];
                hex::decode_to_slice(value, &mut bytes)
                    .map_err(|_| VerifyError::Malformed("`v1` must be 64 hex characters"))?;
                candidates.push(bytes);
            }
            _ => {}
        }
    }
    let t = timestamp.ok_or(VerifyError::Malformed("no `t`"))?;
    if candidates.is_empty() {
        return Err(VerifyError::Malformed("no `v1`"));
    }
    let expected = signature(secret, t, body);
    let mut matched = subtle::Choice::from(0);
    for candidate in &candidates {
        matched |= candidate.ct_eq(&expected);
    }
    if !bool::from(matched) {
        return Err(VerifyError::Mismatch);
    }
    if now.unix_seconds().abs_diff(t) > tolerance_seconds {
        return Err(VerifyError::Stale);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DEV: UrlPolicy = UrlPolicy::DEVELOPMENT;
    const PROD: UrlPolicy = UrlPolicy::PRODUCTION;
    const PORTS: UrlPolicy = UrlPolicy { allow_insecure_loopback: false, allow_any_port: true };

    #[test]
    fn ids_and_secrets_round_trip_and_are_prefixed() {
        let id = WebhookId::from_bytes([0xab; 16]);
        assert_eq!(id.to_string(), format!("wh_{}", "ab".repeat(16)));
        assert_eq!(id.to_string().parse::<WebhookId>(), Ok(id));
        for bad in ["", "wh_", &"ab".repeat(16), &format!("wh_{}", "AB".repeat(16)), &format!("wh_{}", "a".repeat(31))]
        {
            assert!(bad.parse::<WebhookId>().is_err(), "{bad}");
        }
        let secret = WebhookSecret::from_bytes([7; 32]);
        assert_eq!(secret.reveal(), format!("whsec_{}", "07".repeat(32)));
        assert_eq!(secret.reveal().parse::<WebhookSecret>(), Ok(secret.clone()));
        assert!(format!("whsec_{}", "07".repeat(31)).parse::<WebhookSecret>().is_err());
        assert_eq!(format!("{secret:?}"), "WebhookSecret(<redacted>)");
    }

    #[test]
    fn endpoint_debug_output_never_shows_the_secret() {
        let secret = WebhookSecret::from_bytes([9; 32]);
        let endpoint = WebhookEndpoint {
            id: WebhookId::from_bytes([1; 16]),
            merchant_id: MerchantId::from_random_bytes([2; 16]),
            url: WebhookUrl::parse("https://example.com/hook", PROD).expect("url"),
            events: EventSelection::All,
            description: None,
            secret: secret.clone(),
            created_at: Timestamp::from_unix_seconds(1),
        };
        assert!(!format!("{endpoint:?}").contains(&secret.reveal()[6..]));
        let json = serde_json::to_string(&endpoint).expect("serialize");
        assert_eq!(serde_json::from_str::<WebhookEndpoint>(&json).expect("deserialize"), endpoint);
    }

    #[test]
    fn event_selections_parse_with_clear_errors() {
        assert_eq!(EventSelection::parse(&["*"]), Ok(EventSelection::All));
        assert_eq!(EventSelection::parse(&["*", "*"]), Ok(EventSelection::All));
        assert_eq!(
            EventSelection::parse(&["session.expired", "session.processing", "session.expired"]),
            Ok(EventSelection::Only(vec![EventKind::Processing, EventKind::Expired]))
        );
        assert_eq!(EventSelection::parse::<&str>(&[]), Err(EventSelectionError::Empty));
        assert_eq!(EventSelection::parse(&["*", "session.bounced"]), Err(EventSelectionError::WildcardWithOthers));
        assert_eq!(EventSelection::parse(&["session.paid"]), Err(EventSelectionError::Unknown("session.paid".into())));
        assert!(
            EventSelection::parse(&["session.paid"]).expect_err("unknown").to_string().contains("session.processing")
        );
        assert_eq!(EventSelection::default().names(), vec!["*"]);
        assert!(EventSelection::All.includes(EventKind::Expired));
        let only = EventSelection::parse(&["session.succeeded"]).expect("parse");
        assert!(only.includes(EventKind::Succeeded) && !only.includes(EventKind::Bounced));
    }

    #[test]
    fn https_urls_to_public_hosts_are_accepted_and_normalized() {
        for (text, normalized) in [
            ("https://example.com", "https://example.com/"),
            ("HTTPS://Example.COM:443/hooks?x=1", "https://example.com/hooks?x=1"),
            ("https://93.184.216.34/hook", "https://93.184.216.34/hook"),
            ("https://[2606:4700::1111]/hook", "https://[2606:4700::1111]/hook"),
        ] {
            assert_eq!(WebhookUrl::parse(text, PROD).map(|u| u.to_string()), Ok(normalized.to_string()), "{text}");
        }
    }

    #[test]
    fn insecure_or_malformed_urls_are_refused() {
        use WebhookUrlError as E;
        let long = format!("https://example.com/{}", "a".repeat(MAX_WEBHOOK_URL_CHARS));
        for (text, expected) in [
            ("http://example.com/", E::NotHttps),
            ("ftp://example.com/", E::NotHttps),
            ("example.com/hook", E::Malformed("relative URL without a base".into())),
            ("https://user:pw@example.com/", E::Credentials),
            ("https://user@example.com/", E::Credentials),
            ("https://example.com/#frag", E::Fragment),
            ("https://exa mple.com/", E::Whitespace),
            (" https://example.com/", E::Whitespace),
            (long.as_str(), E::TooLong),
        ] {
            assert_eq!(WebhookUrl::parse(text, PROD), Err(expected), "{text}");
        }
        assert!(matches!(WebhookUrl::parse("https://", PROD), Err(E::Malformed(_) | E::NoHost)));
        assert_eq!(WebhookUrl::parse("http://example.com/", DEV), Err(E::HttpNotLoopback));
        assert_eq!(WebhookUrl::parse("mailto:a@example.com", DEV), Err(E::NotHttps));
    }

    #[test]
    fn ip_literals_in_private_and_special_ranges_are_refused() {
        use AddressClass as C;
        for (host, class) in [
            ("127.0.0.1", C::Loopback),
            ("127.8.9.10", C::Loopback),
            ("[::1]", C::Loopback),
            ("localhost", C::Loopback),
            ("api.localhost", C::Loopback),
            ("0.0.0.0", C::Unspecified),
            ("[::]", C::Unspecified),
            ("10.1.2.3", C::Private),
            ("172.16.0.1", C::Private),
            ("172.31.255.255", C::Private),
            ("192.168.1.1", C::Private),
            ("100.64.0.1", C::Private),
            ("169.254.169.254", C::LinkLocal),
            ("[fe80::1]", C::LinkLocal),
            ("[fc00::1]", C::UniqueLocal),
            ("[fd00:ec2::254]", C::UniqueLocal),
            ("224.0.0.1", C::Multicast),
            ("[ff02::1]", C::Multicast),
            ("255.255.255.255", C::Reserved),
            ("[::ffff:169.254.169.254]", C::LinkLocal),
            ("[::ffff:10.0.0.1]", C::Private),
            ("[::ffff:127.0.0.1]", C::Loopback),
            ("[64:ff9b::a9fe:a9fe]", C::LinkLocal),
            // Alternative IPv4 notations are normalized before the check.
            ("2852039166", C::LinkLocal),
            ("0xa9.0xfe.0xa9.0xfe", C::LinkLocal),
            ("0177.1", C::Loopback),
        ] {
            let url = format!("https://{host}/hook");
            assert_eq!(WebhookUrl::parse(&url, PROD), Err(WebhookUrlError::ForbiddenAddress(class)), "{url}");
        }
        assert_eq!(
            WebhookUrl::parse("https://172.32.0.1/", PROD).map(|u| u.to_string()).ok().as_deref(),
            Some("https://172.32.0.1/")
        );
    }

    #[test]
    fn loopback_is_allowed_over_http_only_in_development() {
        for url in
            ["http://127.0.0.1:9000/hook", "http://localhost:9000/hook", "http://[::1]/hook", "https://127.0.0.1/"]
        {
            assert!(WebhookUrl::parse(url, DEV).is_ok(), "{url}");
            assert!(WebhookUrl::parse(url, PROD).is_err(), "{url}");
        }
        // Development mode opens loopback only, not the other private ranges.
        for url in ["http://10.0.0.1/", "https://169.254.169.254/", "http://[::ffff:169.254.169.254]/"] {
            assert!(WebhookUrl::parse(url, DEV).is_err(), "{url}");
        }
    }

    #[test]
    fn ports_other_than_443_need_the_operators_consent() {
        for url in ["https://example.com:8443/hook", "https://93.184.216.34:22/", "https://[2606:4700::1111]:80/"] {
            let port = url::Url::parse(url).expect("url").port().expect("a port");
            assert_eq!(WebhookUrl::parse(url, PROD), Err(WebhookUrlError::Port(port)), "{url}");
            assert_eq!(WebhookUrl::parse(url, DEV), Err(WebhookUrlError::Port(port)), "{url}");
            let allowed = WebhookUrl::parse(url, PORTS).expect("allowed by the operator");
            assert_eq!(allowed.check_port(PORTS), Ok(()));
            // Registered while allowed, refused at delivery once the operator closes it.
            assert_eq!(allowed.check_port(PROD), Err(WebhookUrlError::Port(port)), "{url}");
        }
        for url in ["https://example.com/", "https://example.com:443/"] {
            assert!(WebhookUrl::parse(url, PROD).is_ok_and(|u| u.check_port(PROD).is_ok()), "{url}");
        }
        // Development receivers on loopback keep their ports, not other hosts.
        for url in ["http://127.0.0.1:40315/webhooks", "http://localhost:9000/", "https://[::1]:8443/"] {
            assert!(WebhookUrl::parse(url, DEV).is_ok_and(|u| u.check_port(DEV).is_ok()), "{url}");
        }
        // Ports are checked after the address: a private address is refused as such.
        assert_eq!(
            WebhookUrl::parse("https://10.0.0.1:8443/", PORTS),
            Err(WebhookUrlError::ForbiddenAddress(AddressClass::Private))
        );
    }

    proptest! {
        #[test]
        fn no_port_but_443_passes_a_production_policy(port in 1u16..=65535) {
            let url = format!("https://example.com:{port}/hook");
            let parsed = WebhookUrl::parse(&url, PROD);
            prop_assert_eq!(parsed.is_ok(), port == 443, "{}", url);
            prop_assert!(WebhookUrl::parse(&url, PORTS).is_ok());
        }
    }

    #[test]
    fn descriptions_are_bounded() {
        assert_eq!(parse_description(None), Ok(None));
        assert_eq!(parse_description(Some(String::new())), Ok(None));
        assert_eq!(parse_description(Some("é".repeat(500))), Ok(Some("é".repeat(500))));
        assert_eq!(parse_description(Some("a".repeat(501))), Err(DescriptionTooLong));
    }

    #[test]
    fn signatures_match_an_independent_computation() {
        // HMAC-SHA256 with key "whsec_00…00" over "1700000000.{}".
        let secret = WebhookSecret::from_bytes([0; 32]);
        let header = sign(&secret, Timestamp::from_unix_seconds(1_700_000_000), b"{}");
        let (t, v1) = header.split_once(",v1=").expect("two parts");
        assert_eq!(t, "t=1700000000");
        assert_eq!(v1.len(), 64);
        let mut mac = HmacSha256::new_from_slice(secret.reveal().as_bytes()).expect("key");
        mac.update(b"1700000000.{}");
        assert_eq!(v1, hex::encode(mac.finalize().into_bytes()));
    }

    #[test]
    fn malformed_headers_are_refused() {
        let secret = WebhookSecret::from_bytes([1; 32]);
        let now = Timestamp::from_unix_seconds(1_700_000_000);
        let good = sign(&secret, now, b"body");
        let v1 = good.split_once(",v1=").map(|(_, v)| v.to_string()).expect("v1");
        for header in [
            "".to_string(),
            "garbage".to_string(),
            format!("v1={v1}"),
            "t=1700000000".to_string(),
            format!("t=abc,v1={v1}"),
            format!("t=-5,v1={v1}"),
            format!("t=1700000000,t=1700000000,v1={v1}"),
            "t=1700000000,v1=zz".to_string(),
            format!("t=1700000000,v1={}", &v1[..62]),
        ] {
            assert!(
                matches!(verify(&secret, &header, b"body", now, 300), Err(VerifyError::Malformed(_))),
                "{header:?}"
            );
        }
        // Unknown schemes are ignored; a second v1 (rotation) may match.
        let extra = format!("t=1700000000,v0=abc,v1={},v1={v1}", "00".repeat(32));
        assert_eq!(verify(&secret, &extra, b"body", now, 300), Ok(()));
    }

    fn secret_strategy() -> impl Strategy<Value = WebhookSecret> {
        any::<[u8; 32]>().prop_map(WebhookSecret::from_bytes)
    }

    proptest! {
        #[test]
        fn signed_bodies_verify(secret in secret_strategy(), body in any::<Vec<u8>>(), t in 0u64..4_000_000_000, skew in 0u64..=300) {
            let header = sign(&secret, Timestamp::from_unix_seconds(t), &body);
            prop_assert_eq!(verify(&secret, &header, &body, Timestamp::from_unix_seconds(t + skew), 300), Ok(()));
            prop_assert_eq!(verify(&secret, &header, &body, Timestamp::from_unix_seconds(t.saturating_sub(skew)), 300), Ok(()));
        }

        #[test]
        fn tampering_is_detected(
            secret in secret_strategy(),
            other in secret_strategy(),
            body in proptest::collection::vec(any::<u8>(), 1..256),
            flip in any::<proptest::sample::Index>(),
            t in 1u64..4_000_000_000,
        ) {
            let now = Timestamp::from_unix_seconds(t);
            let header = sign(&secret, now, &body);
            let mut tampered = body.clone();
            tampered[flip.index(body.len())] ^= 1;
            prop_assert_eq!(verify(&secret, &header, &tampered, now, 300), Err(VerifyError::Mismatch));
            let shifted = header.replacen(&format!("t={t}"), &format!("t={}", t - 1), 1);
            prop_assert_eq!(verify(&secret, &shifted, &body, now, 300), Err(VerifyError::Mismatch));
            if other != secret {
                prop_assert_eq!(verify(&other, &header, &body, now, 300), Err(VerifyError::Mismatch));
            }
        }

        #[test]
        fn stale_or_future_timestamps_are_refused(secret in secret_strategy(), t in 1_000u64..4_000_000_000, late in 301u64..100_000) {
            let header = sign(&secret, Timestamp::from_unix_seconds(t), b"{}");
            prop_assert_eq!(verify(&secret, &header, b"{}", Timestamp::from_unix_seconds(t + late), 300), Err(VerifyError::Stale));
            prop_assert_eq!(verify(&secret, &header, b"{}", Timestamp::from_unix_seconds(t.saturating_sub(late)), 300), Err(VerifyError::Stale));
        }
    }
}
