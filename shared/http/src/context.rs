//! What every API handler works with: its store, and the clock and id
//! source it reads (the system's unless a test fixes them).

use ferry_domain::{MerchantId, Timestamp};
use ferry_runtime::Ambient;
use ferry_store::MerchantStore;

use crate::auth::{optional_merchant, require_merchant};
use crate::{ApiError, Request};

#[derive(Clone, Debug)]
pub struct Context<S> {
    pub store: S,
    pub ambient: Ambient,
}

impl<S> Context<S> {
    /// The store, with the system's clock and random ids.
    pub fn new(store: S) -> Self {
        Self { store, ambient: Ambient::default() }
    }

    /// The same context reading the time and fresh ids from `ambient`.
    pub fn with_ambient(self, ambient: Ambient) -> Self {
        Self { ambient, ..self }
    }

    pub fn now(&self) -> Timestamp {
        self.ambient.now()
    }
}

impl<S: MerchantStore> Context<S> {
    /// The merchant whose API key `request` carries: 401 without a valid one.
    pub async fn merchant(&self, request: &Request) -> Result<MerchantId, ApiError> {
        require_merchant(&self.store, request, self.now()).await
    }

    /// The merchant if `request` presents an API key (it must then be valid).
    pub async fn optional_merchant(&self, request: &Request) -> Result<Option<MerchantId>, ApiError> {
        optional_merchant(&self.store, request, self.now()).await
    }
}
