//! The receiver verification examples in the README work: the Rust one is
//! compiled here verbatim (and checked to still be the README's), the Node
//! one is run with `node` against deliveries signed as Ferry signs them.

use std::process::Command;

use ferry_domain::webhook::sign;
use ferry_domain::{Timestamp, WebhookSecret};

const README: &str = include_str!("../../../README.md");

/// The fenced block of `language` that follows `after` in the README.
fn example(after: &str, language: &str) -> &'static str {
    let start = README.find(after).unwrap_or_else(|| panic!("the README no longer says `{after}`"));
    let fence = format!("```{language}\n");
    let open = README[start..].find(&fence).map(|i| start + i + fence.len()).expect("an opening fence");
    let close = README[open..].find("```").map(|i| open + i).expect("a closing fence");
    &README[open..close]
}

mod rust_example {
    // Verbatim from the README (see `the_rust_example_is_the_readmes`).
    use ferry_domain::webhook::{SIGNATURE_TOLERANCE_SECONDS, verify};
    use ferry_domain::{Timestamp, WebhookSecret};

    pub fn check(secret: &str, header: &str, raw_body: &[u8], now_unix: u64) -> bool {
        let Ok(secret) = secret.parse::<WebhookSecret>() else { return false };
        verify(&secret, header, raw_body, Timestamp::from_unix_seconds(now_unix), SIGNATURE_TOLERANCE_SECONDS).is_ok()
    }
}

const SECRET: WebhookSecret = WebhookSecret::from_bytes([0x42; 32]);
const BODY: &str = r#"{"id":"6f1c1f2e-2a8c-4c55-9d2e-3c1f3e0a9b7d","type":"session.succeeded"}"#;

fn now() -> u64 {
    ferry_testing::now().unix_seconds()
}

#[test]
fn the_rust_example_is_the_readmes() {
    let readme = example("Verifying a delivery, in Rust", "rust");
    let here = include_str!("readme_examples.rs");
    for line in readme.lines().filter(|line| !line.trim().is_empty()) {
        let line = line.trim().replace("fn check", "pub fn check");
        assert!(here.contains(&line), "the README's Rust example changed: `{line}` is not in this test");
    }
}

#[test]
fn the_rust_example_accepts_ferrys_signature_and_nothing_else() {
    let header = sign(&SECRET, Timestamp::from_unix_seconds(now()), BODY.as_bytes());
    assert!(rust_example::check(&SECRET.reveal(), &header, BODY.as_bytes(), now()));
    assert!(!rust_example::check(&SECRET.reveal(), &header, b"{}", now()), "another body");
    assert!(!rust_example::check(&SECRET.reveal(), &header, BODY.as_bytes(), now() + 301), "too late");
    let other = WebhookSecret::from_bytes([7; 32]).reveal();
    assert!(!rust_example::check(&other, &header, BODY.as_bytes(), now()), "another secret");
}

/// Runs the README's Node function on one delivery; `true` if it accepts it.
fn node_verifies(secret: &str, header: &str, body: &str) -> bool {
    let script = format!(
        "{}\nconst [secret, header, body] = process.argv.slice(1);\n\
         process.stdout.write(String(verifyFerry(secret, header, Buffer.from(body))));\n",
        example("or in Node", "js")
    );
    let output = Command::new("node")
        .args(["-e", &script, secret, header, body])
        .output()
        .expect("node runs (Node 20 is one of the machine's tools)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    match String::from_utf8_lossy(&output.stdout).as_ref() {
        "true" => true,
        "false" => false,
        other => panic!("the example printed {other}"),
    }
}

#[test]
fn the_node_example_accepts_ferrys_signature_and_nothing_else() {
    let header = sign(&SECRET, Timestamp::from_unix_seconds(now()), BODY.as_bytes());
    assert!(node_verifies(&SECRET.reveal(), &header, BODY));
    assert!(!node_verifies(&SECRET.reveal(), &header, "{}"), "another body");
    assert!(!node_verifies(&WebhookSecret::from_bytes([7; 32]).reveal(), &header, BODY), "another secret");
    let stale = sign(&SECRET, Timestamp::from_unix_seconds(now() - 600), BODY.as_bytes());
    assert!(!node_verifies(&SECRET.reveal(), &stale, BODY), "ten minutes old");
}
