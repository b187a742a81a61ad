//! Ferry's pure domain model: identifiers, money, addresses, the chain and
//! token registry and the session state machine.
//!
//! Nothing in this crate performs I/O, reads a clock or draws randomness:
//! callers pass in the current time and freshly generated identifiers, so
//! every rule here is a deterministic function that tests can pin down.

pub mod address;
pub mod api_key_meta;
pub mod credentials;
pub mod deposit;
pub mod event;
pub mod idempotency;
pub mod ids;
pub mod locale;
pub mod money;
pub mod registry;
pub mod session;
pub mod time;
pub mod webhook;

pub use address::{AddressError, Calldata, EvmAddress, TxHash};
pub use api_key_meta::{ApiKeyId, ApiKeyLabel, ApiKeyMetaError, utc_date, utc_day};
pub use credentials::{ApiKey, ApiKeyHash, ClientSecret, Merchant};
pub use deposit::{
    Deposit, DepositId, DepositRecord, DepositSource, DepositState, PayoutId, PayoutIntent, Plan, RefundReason,
    RouteDeposit, Tolerance, convert_at_par, plan,
};
pub use event::{EventId, SessionEvent};
pub use idempotency::{IdempotencyKey, IdempotencyKeyError, RequestHash};
pub use ids::{IdError, MerchantId, SessionId};
pub use locale::{Locale, LocaleError};
pub use money::{AmountError, BaseUnits};
pub use registry::{Chain, ChainId, ChainRegistry, RegistryError, Token};
pub use session::{
    Delivery, Destination, DisplayError, DisplayField, DisplayInfo, EventKind, ExpireError, IllegalTransition,
    Metadata, MetadataError, NewSession, PaymentMethod, Session, SessionError, SessionRefund, SessionStatus, ThemeMode,
    Transition,
};
pub use time::Timestamp;
pub use webhook::{
    AttemptOutcome, ClaimError, DeliveryAttempt, DeliveryState, EventSelection, EventSelectionError, NotParked,
    RetryPolicy, UrlPolicy, WebhookDelivery, WebhookEndpoint, WebhookId, WebhookSecret, WebhookUrl, WebhookUrlError,
};
