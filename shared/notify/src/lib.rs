//! Webhook notifications: the outbox's events delivered to merchants'
//! endpoints, signed, retried with backoff, parked when they keep failing
//! and replayed on an operator's word.
//!
//! - [`sender`]: one signed POST, with the SSRF rules applied to every
//!   address a host name resolves to.
//! - [`announce`]: writers announce each event right after its commit, so
//!   the worker fans it out at once; the outbox stays the record.
//! - [`message`]: what the webhook queue carries.
//! - [`worker`]: fan-out of announced and pending events, attempts claimed before they are
//!   sent (so a duplicate message never sends twice), retries queued with a
//!   delay when near and found by a sweep when far, replay.
//!
//! Delivery is at least once: an endpoint that answers 2xx after the worker
//! dies but before the attempt is logged gets the event again, with the
//! same `id`.

pub mod announce;
pub mod message;
#[cfg(feature = "deliver")]
pub mod sender;
#[cfg(feature = "deliver")]
pub mod worker;

pub use announce::Announcer;
pub use message::{DeliveryMessage, FanOutMessage, WebhookMessage};
#[cfg(feature = "deliver")]
pub use sender::{DELIVERY_TIMEOUT, GuardedResolver, HostLookup, RefusedHost, ResolveError, WebhookSender};
#[cfg(feature = "deliver")]
pub use worker::{
    BATCH, DeliverWebhooks, Delivered, DispatchReport, LEASE_SECONDS, NotifyError, PARKED_LOG_MESSAGE, ReplayScope,
    SWEEP_GRACE_SECONDS, SWEEP_INTERVAL, event_body, replay_parked,
};
