//! The `ferry` command: the local runner (`ferry serve`, `ferry dev`) and
//! the operator commands (merchants, API keys, parked webhook deliveries)
//! for any store.

pub mod api;
pub mod dev;
pub mod operator;
pub mod receiver;
pub mod server;
pub mod stores;
pub mod workers;
