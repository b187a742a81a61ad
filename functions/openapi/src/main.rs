#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ferry_runtime::logging::init("info");
    ferry_http::run_lambda(openapi::handle).await
}
