//! HTTP glue shared by every API function: the error envelope, request
//! parsing and limits, authentication, the route table, the wire types and
//! the OpenAPI document, and the wrapper that serves a handler.

pub mod auth;
pub mod context;
pub mod cors;
pub mod error;
pub mod idempotency;
pub mod openapi;
pub mod request;
pub mod routes;
pub mod service;
pub mod sessions;
pub mod webhooks;
pub mod wire;

pub use context::Context;
pub use error::{ApiError, ErrorCode, ErrorType};
pub use lambda_http::{Body, Request, RequestExt, Response};
pub use service::{HandlerResult, json, respond, respond_with, run_lambda};
