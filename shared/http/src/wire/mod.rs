//! The JSON shapes of requests and responses, as the public API defines
//! them (camelCase, amounts as decimal strings in token units). The OpenAPI
//! document is generated from these types.
//! One file per resource: [`sessions`], [`webhooks`], [`events`].

mod events;
mod sessions;
mod webhooks;

pub use events::*;
pub use sessions::*;
pub use webhooks::*;
