//! Where an endpoint receives its deliveries, and what a deployment allows there.

use std::fmt;

use serde::{Deserialize, Serialize};

use std::net::IpAddr;

use super::{AddressClass, MAX_WEBHOOK_URL_CHARS, forbidden_address};

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DEV: UrlPolicy = UrlPolicy::DEVELOPMENT;
    const PROD: UrlPolicy = UrlPolicy::PRODUCTION;
    const PORTS: UrlPolicy = UrlPolicy { allow_insecure_loopback: false, allow_any_port: true };

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
}
