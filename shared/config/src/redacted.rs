//! Configuration values that are secrets, typed so that they never print:
//! RPC URLs (providers put API keys in them) and the local relayer key.
//! Their `Debug` shows `<redacted>`, they have no `Display`, and errors
//! about them name the variable and the entry's position, never its text.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use alloy_primitives::B256;
use ferry_domain::{ChainId, ChainRegistry};

const REDACTED: &str = "<redacted>";

/// A JSON-RPC endpoint URL, which may carry a provider's API key: it never
/// prints. [`RpcUrl::expose`] hands it to the one place that connects.
#[derive(Clone, PartialEq, Eq)]
pub struct RpcUrl(String);

impl RpcUrl {
    /// The URL itself: for connecting only, never for logs or errors.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The substrings of an error message or log line that would reveal
    /// this URL or its secret parts, longest first: the URL as written, as
    /// an HTTP client normalises it (trailing `/`), its user info, and what
    /// follows the host (where `/v2/<key>`-style keys live).
    fn secret_forms(&self) -> Vec<&str> {
        let url = self.0.as_str();
        let mut forms = vec![url, url.trim_end_matches('/')];
        if let Some((_scheme, rest)) = url.split_once("://") {
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(authority_end);
            if let Some((user_info, _host)) = authority.rsplit_once('@') {
                forms.push(user_info);
            }
            let tail = tail.trim_end_matches('/');
            if tail.len() > 1 {
                forms.push(tail);
            }
        }
        forms.retain(|form| !form.is_empty());
        forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
        forms
    }
}

impl fmt::Debug for RpcUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RpcUrl({REDACTED})")
    }
}

/// The RPC endpoint of each watched chain (`FERRY_RPC_URLS`):
/// `CHAIN_ID=URL,CHAIN_ID=URL`, each chain in the registry, each once.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RpcUrls(BTreeMap<ChainId, RpcUrl>);

impl fmt::Debug for RpcUrls {
    /// The chain ids only: `RpcUrls { 1: <redacted>, 8453: <redacted> }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Redacted;
        impl fmt::Debug for Redacted {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(REDACTED)
            }
        }
        f.write_str("RpcUrls ")?;
        f.debug_map().entries(self.0.keys().map(|id| (id.get(), Redacted))).finish()
    }
}

impl RpcUrls {
    /// Parses `CHAIN_ID=URL,…`; empty entries (a trailing comma) are
    /// skipped, as `token-options` skips them in the same variable. The
    /// reason for a refusal names entries by position (1-based) and chains
    /// by id, never by their text.
    pub fn parse(text: &str, registry: &ChainRegistry) -> Result<Self, String> {
        let mut urls = BTreeMap::new();
        let entries = text.split(',').map(str::trim).enumerate().filter(|(_, entry)| !entry.is_empty());
        for (index, entry) in entries {
            let position = index + 1;
            let Some((id, url)) = entry.split_once('=') else {
                return Err(format!("entry {position} is not CHAIN_ID=URL"));
            };
            let id = id.trim();
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("entry {position} does not start with a decimal chain id"));
            }
            let id = ChainId::new(id.parse().map_err(|_| format!("entry {position} has an out-of-range chain id"))?);
            if registry.chain(id).is_none() {
                return Err(format!("chain {id} (entry {position}) is not in the chain registry"));
            }
            let url = url.trim();
            let has_host = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"))
                .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
            if !has_host || url.chars().any(char::is_whitespace) {
                return Err(format!("the URL of chain {id} (entry {position}) is not an http(s):// URL"));
            }
            if urls.insert(id, RpcUrl(url.to_string())).is_some() {
                return Err(format!("chain {id} is listed more than once"));
            }
        }
        Ok(Self(urls))
    }

    /// A single chain's endpoint (for tests and local tools).
    pub fn single(chain_id: ChainId, url: impl Into<String>) -> Self {
        Self(BTreeMap::from([(chain_id, RpcUrl(url.into()))]))
    }

    pub fn iter(&self) -> impl Iterator<Item = (ChainId, &RpcUrl)> {
        self.0.iter().map(|(id, url)| (*id, url))
    }

    pub fn get(&self, chain_id: ChainId) -> Option<&RpcUrl> {
        self.0.get(&chain_id)
    }

    pub fn chain_ids(&self) -> impl Iterator<Item = ChainId> + '_ {
        self.0.keys().copied()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `text` with every appearance of a configured URL (or its secret
    /// parts) replaced by `<redacted>`: for error chains that may quote the
    /// URL a request failed for (an HTTP client's connection errors do).
    /// An error's whole chain, `error: cause: …`, redacted as [`Self::redact`].
    pub fn redact_chain(&self, error: &(dyn std::error::Error + 'static)) -> String {
        self.redact(&ferry_chains::redact::error_chain(error))
    }

    pub fn redact(&self, text: &str) -> String {
        let mut forms: Vec<&str> = self.0.values().flat_map(RpcUrl::secret_forms).collect();
        forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
        let mut redacted = text.to_string();
        for form in forms {
            if redacted.contains(form) {
                redacted = redacted.replace(form, REDACTED);
            }
        }
        redacted
    }
}

/// The relayer's private key for local development: 32 bytes that never
/// print.
#[derive(Clone, PartialEq, Eq)]
pub struct RelayerKey(B256);

impl RelayerKey {
    /// The key's bytes: for building the signer only.
    pub fn expose_secret(&self) -> &B256 {
        &self.0
    }
}

impl fmt::Debug for RelayerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RelayerKey({REDACTED})")
    }
}

impl FromStr for RelayerKey {
    type Err = String;
    /// 64 hexadecimal digits, optionally after `0x`; the reason for a
    /// refusal never quotes the text.
    fn from_str(text: &str) -> Result<Self, String> {
        let digits = text.strip_prefix("0x").unwrap_or(text);
        if digits.len() != 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("expected 64 hexadecimal digits, optionally after 0x".into());
        }
        let key = B256::from_str(digits).map_err(|_| "expected 64 hexadecimal digits".to_string())?;
        if key.is_zero() {
            return Err("the zero key is not a private key".into());
        }
        Ok(Self(key))
    }
}

/// How the relayer signs its transactions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelayerSigner {
    /// `FERRY_RELAYER_PRIVATE_KEY`: a key in the environment, for local
    /// development only.
    PrivateKey(RelayerKey),
    /// `FERRY_RELAYER_KMS_KEY_ID`: a secp256k1 key in AWS KMS (key id, ARN
    /// or alias), used through `kms:Sign`; deployments use this.
    Kms { key_id: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_urls_as_http_clients_quote_them() {
        let urls = RpcUrls::parse(
            "31337=http://127.0.0.1:8545,31338=https://user:pa55@rpc.example.com/v2/sEcReT-api-key?x=1",
            &ChainRegistry::local().expect("registry"),
        )
        .expect("urls");
        let quoted = "error sending request for url (http://127.0.0.1:8545/): connection refused; \
                      error sending request for url (https://user:pa55@rpc.example.com/v2/sEcReT-api-key?x=1); \
                      path /v2/sEcReT-api-key?x=1 and user user:pa55";
        let redacted = urls.redact(quoted);
        assert!(!redacted.contains("sEcReT") && !redacted.contains("pa55"), "{redacted}");
        assert!(!redacted.contains("127.0.0.1:8545"), "{redacted}");
        assert!(redacted.starts_with("error sending request for url (<redacted>"), "{redacted}");
        assert_eq!(urls.redact("nothing secret"), "nothing secret");
    }
}
