//! The local HTTP server: converts each request into the `lambda_http`
//! request a Lambda function receives and hands it to the [`Api`].

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use ferry_http::request::MAX_BODY_BYTES;
use ferry_http::{ApiError, Body, ErrorCode, RequestExt, respond_with};
use ferry_store::Store;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::api::Api;

type HyperResponse = hyper::Response<Full<Bytes>>;

fn into_hyper(response: ferry_http::Response<Body>) -> HyperResponse {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

fn query_map(query: Option<&str>) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        map.entry(key.into_owned()).or_default().push(value.into_owned());
    }
    map
}

async fn handle<S: Store>(api: &Api<S>, request: hyper::Request<Incoming>) -> HyperResponse {
    let (parts, body) = request.into_parts();
    let query = query_map(parts.uri.query());
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let request = ferry_http::Request::from_parts(parts, Body::Empty);
            return into_hyper(
                respond_with(api.cors(), request, |_| async {
                    Err(ApiError::new(
                        ErrorCode::PayloadTooLarge,
                        format!("The request body is larger than the limit of {MAX_BODY_BYTES} bytes."),
                    ))
                })
                .await,
            );
        }
    };
    let body = if body.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(body.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(binary) => Body::Binary(binary.into_bytes()),
        }
    };
    let request = ferry_http::Request::from_parts(parts, body).with_query_string_parameters(query);
    into_hyper(api.dispatch(request).await)
}

/// Serves `api` on `listener` until `shutdown` completes.
pub async fn serve<S: Store>(
    listener: TcpListener,
    api: Arc<Api<S>>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => return Ok(()),
        };
        let api = Arc::clone(&api);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let api = Arc::clone(&api);
                async move { Ok::<_, Infallible>(handle(&api, request).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed with an error");
            }
        });
    }
}
