//! Loading and changing a session on behalf of a request.

use ferry_domain::{EvmAddress, Session, SessionId};
use ferry_store::{DEFAULT_ATTEMPTS, RetryError, SessionChange, SessionStore, retry_on_conflict};
use lambda_http::Request;

use crate::ApiError;
use crate::request::path_param;

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
pub async fn update<S, F>(store: &S, id: &SessionId, decide: F) -> Result<Session, ApiError>
where
    S: SessionStore,
    F: Fn(&Session) -> Result<Option<Write>, ApiError>,
{
    let decide = &decide;
    retry_on_conflict(DEFAULT_ATTEMPTS, |_attempt| async move {
        let current = load(store, id).await.map_err(RetryError::Refused)?;
        let Some(Write { next, claim_receiver }) = decide(&current).map_err(RetryError::Refused)? else {
            return Ok(current);
        };
        // Setting a payment method or recording a hint emits no event.
        store.commit(SessionChange { session: &next, claim_receiver, event: None }).await?;
        Ok(next)
    })
    .await
    .map_err(ApiError::from)
}
