//! Ferry end to end, as one test binary (one link instead of ten): each
//! module is one part, and nextest names its tests `<module>::<test>`.
//!
//! - `sessions`, `errors`, `webhooks`, `token_options`: the API over real
//!   HTTP through the local server, on the embedded store and on DynamoDB;
//! - `cors`, `browser`, `js_client`: what browsers and the published JS
//!   client see;
//! - `readme_examples`: the README's receiver verification examples;
//! - `template`: `template.yaml` against the route table, functions and events;
//! - `evm_payments`: the payment flow on real anvil chains with the real
//!   contracts and workers.

mod browser;
mod cors;
mod errors;
mod evm_payments;
mod js_client;
mod readme_examples;
mod sessions;
mod template;
mod token_options;
mod webhooks;
