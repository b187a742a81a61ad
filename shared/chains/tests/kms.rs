//! The relayer signing through AWS KMS, end to end: the real `aws-sdk-kms`
//! client talks to a fake KMS on loopback (the AWS JSON 1.1 protocol, the
//! two operations alloy's `AwsSigner` uses) that holds a real secp256k1 key,
//! Ferry's own `kms_signer` builds the signer, and a `Relayer` with it sends
//! a sweep that an anvil of the test's own mines.
//!
//! Not moto_server: its `Sign` ignores `MessageType=DIGEST` and hashes the
//! digest again (getmoto/moto#10202), so no signature of it recovers to the
//! key. This fake signs the digest as given, as KMS does.
//!
//! Needs `FERRY_TEST_ANVIL` (set by `cargo xtask test`).

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, FixedBytes, U256, keccak256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::Signer;
use alloy::signers::k256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use alloy::signers::k256::ecdsa::{Signature, SigningKey, VerifyingKey};
use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ferry_chains::evm::contracts::{FerryFactory, IERC20, TestStablecoin};
use ferry_chains::evm::local;
use ferry_chains::evm::relayer::{Relayer, kms_signer};
use ferry_domain::{ChainId, SessionId};
use ferry_testing::Anvil;
use serde_json::{Value, json};

const CHAIN: u64 = 31337;
/// The whole end-to-end test, anvil's start included.
const TEST_TIMEOUT: Duration = Duration::from_secs(120);
const KEY_ID: &str = "6f1c2a4e-0b7d-4c1e-9a53-7e2d8c0f4b11";
const ACCOUNT: &str = "000000000000";

// ---------------------------------------------------------------------------
// The fake KMS.

/// A KMS on 127.0.0.1 holding one `ECC_SECG_P256K1` `SIGN_VERIFY` key, serving
/// `GetPublicKey` and `Sign` over the AWS JSON 1.1 protocol. Plain
/// `std::net`, one thread per (keep-alive) connection. Dropping it stops
/// accepting and joins the acceptor.
struct FakeKms {
    address: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    key: SigningKey,
    closing: AtomicBool,
    /// `Sign` requests answered with a signature.
    signatures: AtomicUsize,
}

impl Shared {
    fn arn(&self) -> String {
        format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}")
    }
}

/// A refusal, as KMS sends it: status 400, the error's type in `__type` and
/// `X-Amzn-ErrorType`.
struct AwsError {
    kind: &'static str,
    message: String,
}

fn refuse(kind: &'static str, message: impl Into<String>) -> AwsError {
    AwsError { kind, message: message.into() }
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl FakeKms {
    fn start(key: SigningKey) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared { key, closing: AtomicBool::new(false), signatures: AtomicUsize::new(0) });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new().name("fake-kms".into()).spawn(move || {
                for stream in listener.incoming() {
                    if shared.closing.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let shared = Arc::clone(&shared);
                    // Detached: it ends when the client closes the
                    // connection or stays idle past the read timeout.
                    let _ = thread::Builder::new().name("fake-kms-conn".into()).spawn(move || {
                        let _ = serve(stream, &shared);
                    });
                }
            })?
        };
        Ok(Self { address, shared, acceptor: Some(acceptor) })
    }

    fn endpoint_url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn signatures(&self) -> usize {
        self.shared.signatures.load(Ordering::SeqCst)
    }
}

impl Drop for FakeKms {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        // Wake the acceptor so it sees `closing`.
        let _ = TcpStream::connect(self.address);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn serve(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader)? {
        let (status, error_type, body) = match handle(shared, &request) {
            Ok(body) => ("200 OK", None, body),
            Err(AwsError { kind, message }) => {
                ("400 Bad Request", Some(kind), json!({ "__type": kind, "message": message }))
            }
        };
        let body = body.to_string();
        let mut response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\
             x-amzn-RequestId: {}\r\n",
            body.len(),
            uuid_like(shared.signatures.load(Ordering::SeqCst)),
        );
        if let Some(kind) = error_type {
            response.push_str(&format!("X-Amzn-ErrorType: {kind}\r\n"));
        }
        response.push_str("\r\n");
        response.push_str(&body);
        writer.write_all(response.as_bytes())?;
        writer.flush()?;
    }
    Ok(())
}

fn uuid_like(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// One HTTP/1.1 request with a sized body; `None` at the end of the stream.
fn read_request(reader: &mut impl BufRead) -> io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "headers cut short"));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut request = Request { method, path, headers, body: Vec::new() };
    if request.header("transfer-encoding").is_some() {
        // The SDK sizes its JSON bodies; a chunked one is not a peer's.
        return Err(io::Error::new(io::ErrorKind::InvalidData, "chunked request bodies are not served"));
    }
    let length: usize = request.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    if length > 1024 * 1024 {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "request body too large"));
    }
    request.body.resize(length, 0);
    reader.read_exact(&mut request.body)?;
    Ok(Some(request))
}

/// The request's answer (a JSON body), or KMS's refusal.
fn handle(shared: &Shared, request: &Request) -> Result<Value, AwsError> {
    if request.method != "POST" || request.path != "/" {
        return Err(refuse("UnknownOperationException", format!("{} {}", request.method, request.path)));
    }
    if request.header("content-type") != Some("application/x-amz-json-1.1") {
        return Err(refuse("SerializationException", "Content-Type must be application/x-amz-json-1.1"));
    }
    // Signature Version 4 for KMS in us-east-1 (checked in form, not
    // verified: the credentials are dummies).
    let authorization = request.header("authorization").unwrap_or_default();
    if !authorization.starts_with("AWS4-HMAC-SHA256 Credential=")
        || !authorization.contains("/us-east-1/kms/aws4_request")
        || request.header("x-amz-date").is_none()
    {
        return Err(refuse("MissingAuthenticationTokenException", "no SigV4 signature for kms in us-east-1"));
    }
    let input: Value = serde_json::from_slice(&request.body)
        .map_err(|e| refuse("SerializationException", format!("the body is not JSON: {e}")))?;
    let operation = request.header("x-amz-target").unwrap_or_default();
    if !matches!(operation, "TrentService.GetPublicKey" | "TrentService.Sign") {
        return Err(refuse("UnknownOperationException", format!("unknown operation {operation:?}")));
    }
    let key_id = input.get("KeyId").and_then(Value::as_str).unwrap_or_default();
    if key_id != KEY_ID && key_id != shared.arn() {
        return Err(refuse("NotFoundException", format!("Key '{key_id}' does not exist")));
    }
    if operation == "TrentService.GetPublicKey" {
        return Ok(json!({
            "KeyId": shared.arn(),
            "PublicKey": BASE64.encode(spki_der(shared.key.verifying_key())),
            "KeySpec": "ECC_SECG_P256K1",
            "CustomerMasterKeySpec": "ECC_SECG_P256K1",
            "KeyUsage": "SIGN_VERIFY",
            "SigningAlgorithms": ["ECDSA_SHA_256"],
        }));
    }
    // Sign. KMS itself would hash a RAW message (the default); this fake
    // refuses anything but a digest, so a signer that forgets
    // `MessageType=DIGEST` fails here instead of signing sha256(digest).
    let message_type = input.get("MessageType").and_then(Value::as_str);
    if message_type != Some("DIGEST") {
        return Err(refuse("ValidationException", format!("MessageType must be DIGEST, not {message_type:?}")));
    }
    let algorithm = input.get("SigningAlgorithm").and_then(Value::as_str);
    if algorithm != Some("ECDSA_SHA_256") {
        return Err(refuse(
            "InvalidKeyUsageException",
            format!("the key's signing algorithms are [ECDSA_SHA_256], not {algorithm:?}"),
        ));
    }
    let digest = input
        .get("Message")
        .and_then(Value::as_str)
        .and_then(|m| BASE64.decode(m).ok())
        .ok_or_else(|| refuse("ValidationException", "Message must be base64"))?;
    if digest.len() != 32 {
        return Err(refuse(
            "ValidationException",
            format!("an ECDSA_SHA_256 digest is 32 bytes, not {}", digest.len()),
        ));
    }
    let signature: Signature =
        shared.key.sign_prehash(&digest).map_err(|e| refuse("KMSInternalException", e.to_string()))?;
    // KMS does not normalize `s`: hand out the high-s twin every other time.
    let count = shared.signatures.fetch_add(1, Ordering::SeqCst);
    let signature = if count % 2 == 1 {
        Signature::from_scalars(signature.r(), -signature.s())
            .map_err(|e| refuse("KMSInternalException", e.to_string()))?
    } else {
        signature
    };
    Ok(json!({
        "KeyId": shared.arn(),
        "Signature": BASE64.encode(signature.to_der().as_bytes()),
        "SigningAlgorithm": "ECDSA_SHA_256",
    }))
}

/// The key's SubjectPublicKeyInfo, DER (RFC 5480): id-ecPublicKey on
/// secp256k1, the uncompressed point.
fn spki_der(key: &VerifyingKey) -> Vec<u8> {
    const PREFIX: [u8; 23] = [
        0x30, 0x56, // SEQUENCE, 86 bytes
        0x30, 0x10, // SEQUENCE (AlgorithmIdentifier), 16 bytes
        0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, // OID 1.2.840.10045.2.1 (id-ecPublicKey)
        0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a, // OID 1.3.132.0.10 (secp256k1)
        0x03, 0x42, 0x00, // BIT STRING, 66 bytes, no unused bits
    ];
    let point = key.to_encoded_point(false);
    [&PREFIX[..], point.as_bytes()].concat()
}

// ---------------------------------------------------------------------------
// Helpers.

/// The key the fake KMS holds: fixed, and no anvil account's.
fn kms_key() -> SigningKey {
    SigningKey::from_bytes(&keccak256("ferry kms test key").0.into()).expect("a valid secp256k1 key")
}

/// The Ethereum address of `key`, computed here: keccak256 of the
/// uncompressed point's coordinates, last 20 bytes.
fn ethereum_address(key: &VerifyingKey) -> Address {
    let point = key.to_encoded_point(false);
    Address::from_slice(&keccak256(&point.as_bytes()[1..])[12..])
}

/// The real KMS client, pointed at the fake with dummy credentials.
fn kms_client(kms: &FakeKms) -> aws_sdk_kms::Client {
    let config = aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDFERRYTEST", "ferry-test-secret", None, None, "ferry-kms-test"))
        .endpoint_url(kms.endpoint_url())
        .build();
    aws_sdk_kms::Client::from_conf(config)
}

// ---------------------------------------------------------------------------
// The tests.

#[tokio::test]
async fn the_relayer_signs_its_sweep_through_kms() {
    tokio::time::timeout(TEST_TIMEOUT, relayer_sweeps_through_kms())
        .await
        .unwrap_or_else(|_| panic!("the KMS relayer's sweep did not finish within {TEST_TIMEOUT:?}"));
}

async fn relayer_sweeps_through_kms() {
    let key = kms_key();
    let expected = ethereum_address(key.verifying_key());
    let kms = FakeKms::start(key).expect("start the fake KMS");
    let chain = ChainId::new(CHAIN);

    // Ferry's constructor: one GetPublicKey, through the real SDK client.
    let signer = kms_signer(kms_client(&kms), KEY_ID, Some(chain)).await.expect("kms_signer");
    let kms_address = signer.address();
    assert_eq!(kms_address, expected, "the address from KMS's public key is the key's");
    assert_eq!(signer.chain_id(), Some(CHAIN));
    assert_ne!(kms_address, local::signer(local::RELAYER_KEY).address());

    let anvil = Anvil::start(CHAIN);
    tokio::time::timeout(Duration::from_secs(60), local::deploy(chain, anvil.url()))
        .await
        .expect("deploy within a minute")
        .expect("deploy Ferry's contracts");

    // The deployer (the factory's owner) makes the KMS key the relayer and
    // gives it gas money.
    let url = anvil.url().parse().expect("anvil URL");
    let owner =
        ProviderBuilder::new().wallet(EthereumWallet::from(local::signer(local::DEPLOYER_KEY))).connect_http(url);
    let factory = FerryFactory::new(local::FACTORY, &owner);
    factory
        .setRelayer(kms_address)
        .send()
        .await
        .expect("send setRelayer")
        .get_receipt()
        .await
        .expect("setRelayer mined");
    assert_eq!(factory.relayer().call().await.expect("relayer()"), kms_address);
    let one_eth = U256::from(10).pow(U256::from(18));
    owner
        .send_transaction(TransactionRequest::default().with_to(kms_address).with_value(one_eth))
        .await
        .expect("send ETH")
        .get_receipt()
        .await
        .expect("ETH transfer mined");
    assert_eq!(owner.get_balance(kms_address).await.expect("balance"), one_eth);

    // A deposit waiting in a session's receiver.
    let session = SessionId::from_bytes(*b"ferry-kms-test-1");
    let receiver = factory.receiverAddress(FixedBytes(*session.as_bytes())).call().await.expect("receiverAddress");
    let amount = U256::from(12_345_678u64);
    TestStablecoin::new(local::USDC, &owner)
        .mint(receiver, amount)
        .send()
        .await
        .expect("send mint")
        .get_receipt()
        .await
        .expect("mint mined");
    let usdc = IERC20::new(local::USDC, &owner);
    let before = usdc.balanceOf(local::DESTINATION).call().await.expect("balanceOf");
    assert_eq!(usdc.balanceOf(receiver).call().await.expect("balanceOf"), amount);

    // The relayer, signing with KMS, has the factory sweep it.
    let signatures_before = kms.signatures();
    let relayer = Relayer::connect(chain, anvil.url(), EthereumWallet::from(signer), local::FACTORY).expect("relayer");
    assert_eq!(relayer.address(), kms_address);
    let id = keccak256("ferry kms test sweep");
    let moved = relayer
        .sweep(id, &session, local::USDC, amount, local::DESTINATION, None)
        .await
        .expect("sweep signed through KMS");
    assert_eq!(moved.amount, amount);
    assert!(moved.delivered);
    assert!(kms.signatures() > signatures_before, "the sweep was signed by the fake KMS");

    let receipt = owner.get_transaction_receipt(moved.tx_hash).await.expect("receipt").expect("the sweep is mined");
    assert!(receipt.status(), "the sweep succeeded");
    assert_eq!(receipt.from, kms_address, "the node recovered the KMS key's address as the sender");
    assert_eq!(receipt.to, Some(local::FACTORY));
    assert_eq!(usdc.balanceOf(receiver).call().await.expect("balanceOf"), U256::ZERO);
    assert_eq!(usdc.balanceOf(local::DESTINATION).call().await.expect("balanceOf"), before + amount);
    assert!(owner.get_balance(kms_address).await.expect("balance") < one_eth, "the KMS address paid the gas");
    assert_eq!(owner.get_transaction_count(kms_address).await.expect("nonce"), 1);
    drop(anvil);
}

#[tokio::test]
async fn the_fake_kms_signs_digests_only() {
    tokio::time::timeout(Duration::from_secs(30), fake_kms_refusals())
        .await
        .unwrap_or_else(|_| panic!("the fake KMS did not answer within 30s"));
}

async fn fake_kms_refusals() {
    let key = kms_key();
    let verifying = *key.verifying_key();
    let kms = FakeKms::start(key).expect("start the fake KMS");
    let client = kms_client(&kms);
    let digest = keccak256("a transaction's signing hash");
    let sign = || {
        client
            .sign()
            .key_id(KEY_ID)
            .message(Blob::new(digest.as_slice()))
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
    };

    // A digest is signed as given: the signature verifies as a prehash.
    let signed = sign().message_type(MessageType::Digest).send().await.expect("sign a digest");
    assert_eq!(signed.signing_algorithm(), Some(&SigningAlgorithmSpec::EcdsaSha256));
    let der = signed.signature().expect("a signature").as_ref();
    let signature = Signature::from_der(der).expect("a DER signature");
    verifying.verify_prehash(digest.as_slice(), &signature).expect("signed the digest itself");

    // Without MessageType (KMS's default, RAW) or with RAW: refused.
    for request in [sign(), sign().message_type(MessageType::Raw)] {
        let error = request.send().await.expect_err("a non-digest Sign is refused");
        assert_eq!(error.code(), Some("ValidationException"), "{error:?}");
        assert!(error.message().unwrap_or_default().contains("DIGEST"), "{error:?}");
    }
    // Another algorithm than the key's: refused.
    let error = sign()
        .message_type(MessageType::Digest)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha384)
        .send()
        .await
        .expect_err("ECDSA_SHA_384 is refused");
    assert_eq!(error.code(), Some("InvalidKeyUsageException"), "{error:?}");
    // Another key: not found, and Ferry's constructor fails with it.
    let error = client.get_public_key().key_id("no-such-key").send().await.expect_err("unknown key");
    assert_eq!(error.code(), Some("NotFoundException"), "{error:?}");
    assert!(kms_signer(client.clone(), "no-such-key", None).await.is_err());
    assert_eq!(kms.signatures(), 1, "only the digest was signed");

    // Ferry's signer recovers the right address from every signature, the
    // high-s ones the fake hands out every other time included.
    let signer = kms_signer(client, KEY_ID, None).await.expect("kms_signer");
    for n in 0u8..4 {
        let hash = keccak256([n]);
        let signature = signer.sign_hash(&hash).await.expect("sign_hash through KMS");
        assert_eq!(signature.recover_address_from_prehash(&hash).expect("recover"), signer.address());
    }
    assert_eq!(kms.signatures(), 5);
}
