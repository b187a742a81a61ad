//! Loading and changing a session on behalf of a request.

use ferry_domain::{EvmAddress, Session, SessionId};
use ferry_store::{SessionChange, SessionStore, StoreError};
use lambda_http::Request;

use crate::ApiError;
use crate::request::path_param;

/// How often a change is re-applied to a fresh copy when a concurrent
/// writer changed the session first.
const MAX_ATTEMPTS: usize = 5;

/// The `{sessionId}` path parameter. An id that cannot exist is simply not
/// found.
pub fn session_id(request: &Request) -> Result<SessionId, ApiError> {
    path_param(request, "sessionId").and_then(|id| id.parse().ok()).ok_or_else(ApiError::session_not_found)
}

pub async fn load<S: SessionStore>(store: &S, id: &SessionId) -> Result<Session, ApiError> {
    store.get_session(id).await?.ok_or_else(ApiError::session_not_found)
}

/// What a request wants written: the session's next version, claiming a
/// receiver address if given.
pub struct Write {
    pub next: Session,
    pub claim_receiver: Option<EvmAddress>,
}

/// Loads the session, asks `decide` what to write (`None`: nothing), and writes it
/// conditionally. If another writer got there first, `decide` runs again on
/// the fresh copy, so decisions are always made on the state they change.
pub async fn update<S, F>(store: &S, id: &SessionId, mut decide: F) -> Result<Session, ApiError>
where
    S: SessionStore,
    F: FnMut(&Session) -> Result<Option<Write>, ApiError>,
{
    for _attempt in 0..MAX_ATTEMPTS {
        let current = load(store, id).await?;
        let Some(Write { next, claim_receiver }) = decide(&current)? else {
            return Ok(current);
        };
        // Setting a payment method or recording a hint emits no event.
        let change = SessionChange { session: &next, claim_receiver, event: None };
        match store.commit(change).await {
            Ok(()) => return Ok(next),
            Err(StoreError::Conflict(why)) => {
                tracing::info!(%why, "session changed concurrently; retrying")
            }
            Err(other) => return Err(other.into()),
        }
    }
    Err(ApiError::internal("session kept changing concurrently"))
}
