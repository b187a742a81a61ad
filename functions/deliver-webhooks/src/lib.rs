//! `deliver-webhooks`: tells merchants what happened to their sessions.
//!
//! One function, two triggers (`template.yaml`):
//!
//! - **the webhook queue** (SQS event source, partial batch responses),
//!   which carries two kinds of message ([`WebhookMessage`]):
//!   - an event a writer (`route-deposits`, `expire-sessions`) announced
//!     right after committing it: fanned out to the merchant's endpoints,
//!     one delivery each, queued;
//!   - a delivery to attempt: claimed, signed, sent, logged, and when it
//!     failed queued again with the backoff's delay (or left to the sweep
//!     when that is longer than a queue can delay);
//! - **a schedule** (every minute), the sweep: events still pending in the
//!   outbox (their announcement was lost, or their writer died before it)
//!   are fanned out, and overdue deliveries are queued again. One pass,
//!   repeated while a batch comes back full, so the function runs for
//!   moments a minute rather than the whole minute.
//!
//! Which one invoked it is told by the event's shape: an SQS event has
//! `Records`. The work itself is [`ferry_notify::DeliverWebhooks`].

pub mod lambda;
