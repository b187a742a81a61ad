//! Running a function's real binary as Lambda runs it, through a
//! [`FakeRuntimeApi`]: what every function's entry-point and cold-start
//! tests do.
//!
//! - [`invoke_lambda`] / [`run_lambda`]: one event, the answer (or why there
//!   was none);
//! - [`cold_start_error`]: a configuration the binary must refuse to start with;
//! - [`refuses_to_start_without_its_configuration!`](crate::refuses_to_start_without_its_configuration):
//!   the test every configured function has;
//! - [`BinaryOnMoto`]: the binary against a fresh DynamoDB table on
//!   moto_server, with a merchant, as the entry-point tests start.

use std::ffi::OsStr;
use std::time::Duration;

use ferry_store::dynamodb::DynamoStore;

use crate::{
    Captured, FakeRuntimeApi, SeededMerchant, TEST_TIMEOUT, bounded, fresh_table, moto_endpoint, seed_merchant,
};

/// Runs the function binary at `binary` on `event` through a fresh
/// [`FakeRuntimeApi`] (from async code, on the blocking pool), bounded by
/// `timeout`: the answer it posted, or why there was none (with its output).
pub async fn run_lambda<K, V>(
    binary: &str,
    env: Vec<(K, V)>,
    event: String,
    timeout: Duration,
) -> Result<serde_json::Value, String>
where
    K: AsRef<OsStr> + Send + 'static,
    V: AsRef<OsStr> + Send + 'static,
{
    run_lambda_capturing(binary, env, event, timeout).await.result
}

/// [`run_lambda`], also handing back everything the function printed and
/// its peak memory, whatever the outcome.
pub async fn run_lambda_capturing<K, V>(binary: &str, env: Vec<(K, V)>, event: String, timeout: Duration) -> Captured
where
    K: AsRef<OsStr> + Send + 'static,
    V: AsRef<OsStr> + Send + 'static,
{
    let binary = binary.to_string();
    let invocation =
        tokio::task::spawn_blocking(move || FakeRuntimeApi::invoke_capturing(&binary, &env, &event, timeout));
    match invocation.await {
        Ok(captured) => captured,
        Err(join) => panic!("the Lambda invocation thread failed: {join}"),
    }
}

/// [`run_lambda`] bounded by [`TEST_TIMEOUT`], for a binary that must
/// answer: the API Gateway response (or other answer) it posted. Panics with
/// the function's output if it did not answer.
pub async fn invoke_lambda<K, V>(binary: &str, env: Vec<(K, V)>, event: String) -> serde_json::Value
where
    K: AsRef<OsStr> + Send + 'static,
    V: AsRef<OsStr> + Send + 'static,
{
    match run_lambda(binary, env, event, TEST_TIMEOUT).await {
        Ok(response) => response,
        Err(error) => panic!("the Lambda invocation failed: {error}"),
    }
}

/// Runs `binary` on `event` with `env`, which it must refuse at its cold
/// start: it stops (exits, or reports an init error) without answering.
/// Returns what it said, its output included, for the test to check what
/// it names (a variable) and what it must not print (a secret).
pub async fn cold_start_error<K, V>(binary: &str, env: Vec<(K, V)>, event: String) -> String
where
    K: AsRef<OsStr> + Send + 'static,
    V: AsRef<OsStr> + Send + 'static,
{
    match run_lambda(binary, env, event, TEST_TIMEOUT).await {
        Ok(answer) => panic!("the function started and answered: {answer}"),
        Err(error) => {
            let stopped = error.contains("without answering the invocation") || error.contains("failed to initialise");
            assert!(stopped, "the cold start did not fail, the function did: {error}");
            error
        }
    }
}

/// Expands to the test every configured function has: started with no
/// variable at all, its binary (`$binary`, e.g.
/// `env!("CARGO_BIN_EXE_create-session")`) stops before serving `$event`
/// and names `$variable`, the first it misses.
#[macro_export]
macro_rules! refuses_to_start_without_its_configuration {
    ($binary:expr, $event:expr, $variable:expr $(,)?) => {
        /// Without its configuration the binary stops before serving
        /// anything and says which variable is missing.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn refuses_to_start_without_its_configuration() {
            let no_config: Vec<(&str, &str)> = Vec::new();
            let error = $crate::cold_start_error($binary, no_config, $event).await;
            assert!(error.contains($variable), "no mention of {}: {error}", $variable);
        }
    };
}

/// A function's real binary against a fresh DynamoDB table on moto_server
/// (`FERRY_TEST_DYNAMODB_ENDPOINT`), with one merchant seeded: where every
/// function's entry-point test starts.
pub struct BinaryOnMoto {
    binary: String,
    pub endpoint: String,
    pub store: DynamoStore,
    pub merchant: SeededMerchant,
    /// The binary's variables: [`session_function_env`](crate::session_function_env)
    /// for the table, changed with [`Self::set`].
    pub env: Vec<(&'static str, String)>,
}

impl BinaryOnMoto {
    /// Creates the table (named after the binary) and the merchant.
    pub async fn start(binary: &str) -> Self {
        let endpoint = moto_endpoint();
        let name = std::path::Path::new(binary).file_name().and_then(OsStr::to_str).unwrap_or("function");
        let store = bounded(fresh_table(&endpoint, &format!("ferry-{name}"))).await;
        let merchant = bounded(seed_merchant(&store)).await;
        let env = crate::session_function_env(&endpoint, store.table());
        Self { binary: binary.to_string(), endpoint, store, merchant, env }
    }

    /// Sets the variable `name` for the binary, replacing its value if set.
    pub fn set(&mut self, name: &'static str, value: impl Into<String>) -> &mut Self {
        self.env.retain(|(set, _)| *set != name);
        self.env.push((name, value.into()));
        self
    }

    /// Runs the binary on `event`, which it must answer.
    pub async fn invoke(&self, event: String) -> serde_json::Value {
        invoke_lambda(&self.binary, self.env.clone(), event).await
    }

    /// Runs the binary on `event`, bounded by `timeout`: its answer or why
    /// there was none.
    pub async fn run(&self, event: String, timeout: Duration) -> Result<serde_json::Value, String> {
        run_lambda(&self.binary, self.env.clone(), event, timeout).await
    }
}
