#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ferry_http::service::init_tracing();
    ferry_http::run_lambda(openapi::handle).await
}
