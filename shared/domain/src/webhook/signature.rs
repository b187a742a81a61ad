//! The `Ferry-Signature` header: signing a delivery and verifying one.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::WebhookSecret;
use crate::Timestamp;

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
