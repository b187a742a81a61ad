//! Nothing panics on any input: arbitrary bodies, and valid bodies with one
//! field replaced by arbitrary JSON, are answered with 201 or a 4xx in the
//! error envelope — never a 500.

use std::sync::Arc;

use create_session::CreateSession;
use ferry_domain::ChainRegistry;
use ferry_http::Context;
use ferry_store::memory::MemoryStore;
use ferry_testing::seed_merchant;
use proptest::prelude::*;
use serde_json::{Value, json};

fn valid_body() -> Value {
    json!({
        "destination": {
            "type": "evm",
            "address": "0x1111111111111111111111111111111111111111",
            "chainId": 8453,
            "tokenAddress": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
            "amountUnits": "10.00",
            "calldata": "0x",
        },
        "display": {"title": "Order", "verb": "Pay", "paymentOptions": ["evm"]},
        "metadata": {"k": "v"},
        "refundAddress": "0x1111111111111111111111111111111111111111",
    })
}

const PATHS: &[&[&str]] = &[
    &["destination"],
    &["destination", "type"],
    &["destination", "address"],
    &["destination", "chainId"],
    &["destination", "tokenAddress"],
    &["destination", "amountUnits"],
    &["destination", "calldata"],
    &["display"],
    &["display", "title"],
    &["display", "verb"],
    &["display", "themeCssUrl"],
    &["display", "paymentOptions"],
    &["metadata"],
    &["refundAddress"],
];

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "\\PC{0,40}".prop_map(Value::from),
        "0x[0-9a-fA-F]{0,70}".prop_map(Value::from),
        "[0-9]{0,45}(\\.[0-9]{0,40})?".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("[a-zA-Z]{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn replace(mut body: Value, path: &[&str], value: Value) -> Value {
    let (last, parents) = path.split_last().expect("non-empty path");
    let mut target = &mut body;
    for key in parents {
        target = &mut target[*key];
    }
    target[*last] = value;
    body
}

/// Posts `body` and asserts the answer is a success or a well-formed refusal.
fn assert_answered(runtime: &tokio::runtime::Runtime, body: &[u8]) -> Result<(), TestCaseError> {
    runtime.block_on(async {
        let store = MemoryStore::new();
        let merchant = seed_merchant(&store).await;
        let function =
            CreateSession::new(Context::new(store), Arc::new(ChainRegistry::production().expect("registry")));
        let request = http::Request::builder()
            .method("POST")
            .uri("/v1/sessions")
            .header("authorization", format!("Bearer {}", merchant.api_key))
            .body(ferry_http::Body::Binary(body.to_vec()))
            .expect("request");
        let response = ferry_http::respond(request, |r| function.handle(r)).await;
        let status = response.status().as_u16();
        prop_assert!(status == 201 || status == 400 || status == 413, "status {status}");
        let json: Value = serde_json::from_slice(response.body().as_ref()).expect("JSON response");
        if status != 201 {
            prop_assert!(json["error"]["code"].is_string() && json["error"]["message"].is_string(), "{json}");
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_are_refused_cleanly(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        assert_answered(&runtime, &body)?;
    }

    #[test]
    fn arbitrary_json_is_refused_cleanly(body in arbitrary_json()) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        assert_answered(&runtime, body.to_string().as_bytes())?;
    }

    #[test]
    fn any_one_field_replaced_by_arbitrary_json_is_answered_cleanly(
        path in proptest::sample::select(PATHS),
        value in arbitrary_json(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        assert_answered(&runtime, replace(valid_body(), path, value).to_string().as_bytes())?;
    }
}
