//! `route-deposits` (SQS consumer): takes a recorded deposit to its end.
//!
//! 1. Decide (`ferry_domain::plan`): sweep to the destination, pay out from
//!    inventory on the destination chain, or refund — and persist the plan
//!    on the deposit with a conditional write. That write is the claim: a
//!    second worker on the same message finds the plan and resumes it.
//! 2. To deliver, move the session to `processing` with the deposit as its
//!    source (conditional). If another deposit got there first, this one is
//!    re-planned as a refund.
//! 3. Carry the plan out with the relayer. Every payout is written as an
//!    intent (chain, relayer nonce, amount, recipient) before its
//!    transaction leaves, under an id the factory pays at most once; a retry
//!    finds the payout on chain instead of paying again.
//! 4. Record the settlement on the deposit and the outcome on the session
//!    (`succeeded`, or `bounced` when the destination call reverted). A
//!    refund, whatever its reason and whatever the session's status, is
//!    also listed in the session's `refunds`, once per deposit.
//!
//! Every session change here is committed with its event (`session.processing`,
//! `session.succeeded`, `session.bounced`) in the same conditional write: the
//! outbox. A retry after a lost race builds a fresh event for its fresh
//! attempt, so only the winning write's event exists. Listing a refund
//! changes no status and emits no event.

pub mod consumer;
pub mod funds;
pub mod lambda;

use std::collections::HashMap;
use std::sync::Arc;

use alloy::primitives::{B256, Bytes, U256, keccak256};
use ferry_chains::evm::client::ChainError;
use ferry_chains::evm::relayer::{ContractCall, Moved, Relayer};
use ferry_domain::{
    BaseUnits, ChainId, Delivery, DepositId, DepositRecord, DepositState, EventKind, EvmAddress, IllegalTransition,
    PayoutIntent, Plan, RefundReason, Session, SessionEvent, SessionId, SessionRefund, SessionStatus, Timestamp,
    Tolerance, TxHash,
};
use ferry_notify::Announcer;
use ferry_runtime::Ambient;
use ferry_store::{ChainStore, RetryError, SessionChange, StoreError, retry_on_conflict};

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("deposit {0} is not recorded")]
    UnknownDeposit(DepositId),
    #[error("session {0} of a deposit does not exist")]
    UnknownSession(SessionId),
    /// The session is not in a state the deposit's routing can change.
    #[error("session {session} of a deposit cannot change")]
    IllegalTransition {
        session: SessionId,
        #[source]
        source: IllegalTransition,
    },
    #[error("no relayer is configured for chain {0}")]
    NoRelayer(ChainId),
    /// Another writer kept changing the deposit or its session.
    #[error("deposit {deposit} is being routed by another worker")]
    Contended {
        deposit: DepositId,
        #[source]
        source: RetryError,
    },
    #[error("deposit {0} is recorded as settled, but its movement is not on chain")]
    MissingMovement(DepositId),
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct RouteDeposits<S> {
    store: S,
    relayers: HashMap<ChainId, Arc<Relayer>>,
    /// Collects deposits that were paid out from inventory elsewhere.
    treasury: EvmAddress,
    pub tolerance: Tolerance,
    /// Gas given to a destination contract call.
    pub call_gas: u64,
    /// Where the events this router commits are announced.
    announcer: Announcer,
    ambient: Ambient,
}

/// What a relayer transaction does with a deposit; each deposit gets each
/// at most once, enforced by the factory on chain.
#[derive(Clone, Copy)]
enum Movement {
    /// Out of the receiver: to the destination, or back to the payer.
    Sweep,
    /// From the relayer's inventory on the destination chain.
    Payout,
    /// Out of the receiver into the treasury, after a payout elsewhere.
    Collect,
}

/// The on-chain id of `movement` for `deposit`.
fn movement_id(deposit: &DepositId, movement: Movement) -> B256 {
    let kind = match movement {
        Movement::Sweep => "sweep",
        Movement::Payout => "payout",
        Movement::Collect => "collect",
    };
    keccak256(format!("ferry:{kind}:{deposit}").as_bytes())
}

/// How often a change of a deposit's session is made again on a fresh read
/// when another writer (an API request, the expiry worker, another router)
/// changed the session first; then the message is retried by its queue.
const SESSION_ATTEMPTS: u32 = 10;

/// How often finishing a deposit is tried when the recovery sweep
/// rescheduled it meanwhile.
const FINISH_ATTEMPTS: u32 = 3;

impl RouteError {
    /// A retried change of `deposit` (or its session) that did not happen.
    fn from_retry(deposit: DepositId, error: RetryError<RouteError>) -> Self {
        match error {
            RetryError::Refused(error) => error,
            RetryError::Store(error) => Self::Store(error),
            RetryError::Exhausted { attempts, last } => {
                Self::Contended { deposit, source: RetryError::Exhausted { attempts, last } }
            }
        }
    }

    fn illegal(session: SessionId) -> impl FnOnce(IllegalTransition) -> RetryError<RouteError> {
        move |source| RetryError::Refused(Self::IllegalTransition { session, source })
    }
}

fn units(amount: U256) -> BaseUnits {
    BaseUnits::new(u128::try_from(amount).unwrap_or(u128::MAX))
}

impl<S: ChainStore> RouteDeposits<S> {
    pub fn new(store: S, relayers: Vec<Arc<Relayer>>, treasury: EvmAddress) -> Self {
        let relayers = relayers.into_iter().map(|relayer| (relayer.chain_id(), relayer)).collect();
        Self {
            store,
            relayers,
            treasury,
            tolerance: Tolerance::default(),
            call_gas: 500_000,
            announcer: Announcer::none(),
            ambient: Ambient::default(),
        }
    }

    /// Takes the time and fresh ids from `ambient` (the system's by default).
    pub fn with_ambient(mut self, ambient: Ambient) -> Self {
        self.ambient = ambient;
        self
    }

    /// The event of the change that produced `session`, under a fresh id,
    /// at the time of the write.
    fn event_of(&self, kind: EventKind, session: &Session) -> SessionEvent {
        SessionEvent::new(self.ambient.fresh(), kind, session, self.ambient.now())
    }

    /// Announces each event right after its commit, so its webhooks go out
    /// at once (without, they wait for the webhook sweep).
    pub fn announcing(mut self, announcer: Announcer) -> Self {
        self.announcer = announcer;
        self
    }

    fn relayer(&self, chain: ChainId) -> Result<&Relayer, RouteError> {
        self.relayers.get(&chain).map(AsRef::as_ref).ok_or(RouteError::NoRelayer(chain))
    }

    async fn session(&self, record: &DepositRecord) -> Result<Session, RouteError> {
        self.store.get_session(&record.session_id).await?.ok_or(RouteError::UnknownSession(record.session_id))
    }

    /// Routes one deposit to its end; safe to call again for the same one.
    /// Once the deposit is settled and its session shows the outcome, the
    /// deposit leaves the recovery sweep's queue.
    #[tracing::instrument(skip(self), fields(deposit = %id))]
    pub async fn route(&self, id: &DepositId, now: Timestamp) -> Result<(), RouteError> {
        let record = self.store.get_deposit(id).await?.ok_or_else(|| RouteError::UnknownDeposit(id.clone()))?;
        let record = self.route_to_end(record, now).await?;
        self.mark_finished(record).await
    }

    /// Carries the deposit from wherever it is to its end; returns the
    /// record as last written.
    async fn route_to_end(&self, mut record: DepositRecord, now: Timestamp) -> Result<DepositRecord, RouteError> {
        if record.state == DepositState::Detected {
            let session = self.session(&record).await?;
            let plan = ferry_domain::plan(&session, &record.deposit, self.tolerance, now);
            record = self.replace(&record, record.planned(plan)).await?;
        }
        let plan = match &record.state {
            DepositState::Planned { plan } => plan.clone(),
            DepositState::Settled { plan, tx_hash, amount } => {
                self.finish_settled(&record, plan, *tx_hash, *amount).await?;
                return Ok(record);
            }
            DepositState::Detected => return Ok(record),
        };
        let plan = self.claim_session(&mut record, plan).await?;
        let moved = self.execute(&record, &plan).await?;
        let settled = record.settled(plan.clone(), TxHash::new(moved.tx_hash), units(moved.amount));
        let record = self.replace(&record, settled).await?;
        self.finish_session(&record, &plan, &moved).await?;
        Ok(record)
    }

    /// Takes a routed deposit off the recovery sweep's queue. Only a
    /// settled one: anything else still needs routing.
    async fn mark_finished(&self, record: DepositRecord) -> Result<(), RouteError> {
        let (store, first, id) = (&self.store, &record, record.id());
        retry_on_conflict(FINISH_ATTEMPTS, |attempt| {
            let id = id.clone();
            async move {
                // After a conflict the recovery sweep rescheduled it meanwhile: read it again.
                let record = match attempt {
                    1 => first.clone(),
                    _ => store.get_deposit(&id).await?.ok_or(RetryError::Refused(RouteError::UnknownDeposit(id)))?,
                };
                if record.is_finished() || !matches!(record.state, DepositState::Settled { .. }) {
                    return Ok(());
                }
                Ok(store.update_deposit(&record.finished()).await?)
            }
        })
        .await
        .map_err(|error| RouteError::from_retry(record.id(), error))
    }

    /// Writes `next` (the next version of `record`); a conflict means
    /// another worker is routing the deposit.
    async fn replace(&self, record: &DepositRecord, next: DepositRecord) -> Result<DepositRecord, RouteError> {
        match self.store.update_deposit(&next).await {
            Ok(()) => Ok(next),
            Err(last @ StoreError::Conflict(_)) => {
                Err(RouteError::Contended { deposit: record.id(), source: RetryError::Exhausted { attempts: 1, last } })
            }
            Err(other) => Err(other.into()),
        }
    }

    /// For a delivering plan, makes this deposit the one paying the session
    /// (`processing`); if another deposit already is, re-plans as a refund.
    async fn claim_session(&self, record: &mut DepositRecord, plan: Plan) -> Result<Plan, RouteError> {
        if matches!(plan, Plan::Refund { .. }) {
            return Ok(plan);
        }
        let (this, deposit) = (self, &*record);
        let claim = retry_on_conflict(SESSION_ATTEMPTS, |_attempt| async move {
            let session = this.session(deposit).await.map_err(RetryError::Refused)?;
            if session.paid_by() == Some(&deposit.id()) {
                return Ok(None);
            }
            if session.status() != SessionStatus::WaitingPayment {
                return Ok(Some(session.refund_address.unwrap_or(deposit.deposit.from)));
            }
            let (next, kind) = session.deposit_seen(&deposit.deposit).map_err(RouteError::illegal(session.id))?;
            let event = this.event_of(kind, &next);
            this.store.commit(SessionChange::new(&next).emitting(&event)).await?;
            tracing::info!(session_id = %next.id, "session processing");
            this.announcer.committed(&event).await;
            Ok(None)
        })
        .await
        .map_err(|error| RouteError::from_retry(record.id(), error))?;
        match claim {
            None => Ok(plan),
            // Another deposit pays the session: this one goes back.
            Some(to) => {
                let refund = Plan::Refund { to, reason: RefundReason::AlreadyPaid };
                *record = self.replace(record, record.planned(refund.clone())).await?;
                Ok(refund)
            }
        }
    }

    async fn execute(&self, record: &DepositRecord, plan: &Plan) -> Result<Moved, RouteError> {
        let deposit = &record.deposit;
        let source = self.relayer(deposit.chain_id)?;
        let token = deposit.token.address.into_inner();
        let amount = U256::from(deposit.amount.get());
        let from_block = deposit.block_number;
        let call = |calldata: &Option<ferry_domain::Calldata>, target: EvmAddress, refund_to: EvmAddress| {
            calldata.as_ref().map(|data| ContractCall {
                target: target.into_inner(),
                data: Bytes::copy_from_slice(data.as_bytes()),
                gas: self.call_gas,
                refund_to: refund_to.into_inner(),
            })
        };
        match plan {
            Plan::Sweep { to, calldata, refund_to } => {
                let id = movement_id(&record.id(), Movement::Sweep);
                if let Some(done) = source.find_done(id, from_block).await? {
                    return Ok(done);
                }
                let call = call(calldata, *to, *refund_to);
                Ok(source.sweep(id, &record.session_id, token, amount, to.into_inner(), call.as_ref()).await?)
            }
            Plan::Refund { to, reason } => {
                let id = movement_id(&record.id(), Movement::Sweep);
                if let Some(done) = source.find_done(id, from_block).await? {
                    return Ok(done);
                }
                tracing::info!(session_id = %record.session_id, %reason, %to, "refunding deposit");
                Ok(source.sweep(id, &record.session_id, token, amount, to.into_inner(), None).await?)
            }
            Plan::Payout { chain_id, token: out_token, amount: out_amount, to, calldata, refund_to } => {
                let destination = self.relayer(*chain_id)?;
                let payout_id = movement_id(&record.id(), Movement::Payout);
                let earlier = self.store.get_payout(&payout_id.into()).await?;
                let search_from = earlier.as_ref().map_or(0, |intent| intent.from_block);
                let paid = match destination.find_done(payout_id, search_from).await? {
                    Some(paid) => paid,
                    None => {
                        let call = call(calldata, *to, *refund_to);
                        let intent = PayoutIntent {
                            payout_id: payout_id.into(),
                            deposit_id: record.id(),
                            chain_id: *chain_id,
                            relayer: EvmAddress::new(destination.address()),
                            nonce: 0,
                            token: out_token.clone(),
                            amount: *out_amount,
                            to: *to,
                            tx_hash: None,
                            from_block: destination.block_number().await?,
                            created_at: record.recorded_at,
                            version: 0,
                        };
                        let store = &self.store;
                        let record_intent = |proposed: u64| async move {
                            match earlier {
                                // A retry whose first transaction is not on chain (yet): send
                                // under the same nonce, so at most one of the two can ever be
                                // mined (and the factory pays each payout id once anyway).
                                Some(earlier) => Ok(earlier.nonce),
                                None => {
                                    store.create_payout(&PayoutIntent { nonce: proposed, ..intent }).await?;
                                    Ok(proposed)
                                }
                            }
                        };
                        let paid = destination
                            .pay(
                                payout_id,
                                out_token.address.into_inner(),
                                U256::from(out_amount.get()),
                                to.into_inner(),
                                call.as_ref(),
                                record_intent,
                            )
                            .await?;
                        self.record_payout_tx(payout_id, paid.tx_hash).await?;
                        paid
                    }
                };
                self.collect(record, source).await?;
                Ok(paid)
            }
        }
    }

    /// Notes the mined transaction on the payout's intent.
    async fn record_payout_tx(&self, payout_id: B256, tx_hash: B256) -> Result<(), RouteError> {
        if let Some(intent) = self.store.get_payout(&payout_id.into()).await? {
            self.store.update_payout(&intent.mined(TxHash::new(tx_hash))).await?;
        }
        Ok(())
    }

    /// After a payout elsewhere, the deposit itself goes to the treasury.
    async fn collect(&self, record: &DepositRecord, relayer: &Relayer) -> Result<(), RouteError> {
        let deposit = &record.deposit;
        let id = movement_id(&record.id(), Movement::Collect);
        if relayer.find_done(id, deposit.block_number).await?.is_none() {
            let (token, amount) = (deposit.token.address.into_inner(), U256::from(deposit.amount.get()));
            relayer.sweep(id, &record.session_id, token, amount, self.treasury.into_inner(), None).await?;
        }
        Ok(())
    }

    /// A settled deposit whose session may not show it yet: the worker died
    /// between recording the settlement and the session's outcome (or the
    /// refund's listing). Records the outcome the chain shows (delivered,
    /// or refunded by a reverted call) and lists a refund; moves nothing.
    async fn finish_settled(
        &self,
        record: &DepositRecord,
        plan: &Plan,
        tx_hash: TxHash,
        amount: BaseUnits,
    ) -> Result<(), RouteError> {
        let (relayer, id, from_block) = match plan {
            Plan::Refund { .. } => return self.list_refund(record, plan, tx_hash, amount).await,
            Plan::Sweep { .. } => (
                self.relayer(record.deposit.chain_id)?,
                movement_id(&record.id(), Movement::Sweep),
                record.deposit.block_number,
            ),
            Plan::Payout { chain_id, .. } => {
                let id = movement_id(&record.id(), Movement::Payout);
                let intent = self.store.get_payout(&id.into()).await?;
                (self.relayer(*chain_id)?, id, intent.map_or(0, |intent| intent.from_block))
            }
        };
        let session = self.session(record).await?;
        if session.paid_by() != Some(&record.id()) || session.status() != SessionStatus::Processing {
            return Ok(());
        }
        let moved = relayer.find_done(id, from_block).await?.ok_or_else(|| RouteError::MissingMovement(record.id()))?;
        self.finish_session(record, plan, &moved).await
    }

    async fn finish_session(&self, record: &DepositRecord, plan: &Plan, moved: &Moved) -> Result<(), RouteError> {
        let (tx_hash, amount) = (TxHash::new(moved.tx_hash), units(moved.amount));
        if matches!(plan, Plan::Refund { .. }) {
            return self.list_refund(record, plan, tx_hash, amount).await;
        }
        let this = self;
        retry_on_conflict(SESSION_ATTEMPTS, |_attempt| async move {
            let session = this.session(record).await.map_err(RetryError::Refused)?;
            if session.paid_by() != Some(&record.id()) || session.status() != SessionStatus::Processing {
                return Ok(());
            }
            let transition = if moved.delivered {
                session.delivered(Delivery { tx_hash, received: amount })
            } else {
                session.refunded(SessionRefund::sent_back(&record.deposit, plan, &session.destination, tx_hash, amount))
            };
            let (next, kind) = transition.map_err(RouteError::illegal(session.id))?;
            let event = this.event_of(kind, &next);
            this.store.commit(SessionChange::new(&next).emitting(&event)).await?;
            tracing::info!(session_id = %next.id, status = %next.status(), event = kind.as_str(), event_id = %event.id, "session settled");
            this.announcer.committed(&event).await;
            Ok(())
        })
        .await
        .map_err(|error| RouteError::from_retry(record.id(), error))
    }

    /// Lists a settled refund plan's refund in its session's `refunds`, in
    /// any status (a bounce lists its refund in its own transition). Once: a replay
    /// finds it listed and writes nothing; a lost race retries on the
    /// fresh session.
    async fn list_refund(
        &self,
        record: &DepositRecord,
        plan: &Plan,
        tx_hash: TxHash,
        amount: BaseUnits,
    ) -> Result<(), RouteError> {
        let this = self;
        retry_on_conflict(SESSION_ATTEMPTS, |_attempt| async move {
            let session = this.session(record).await.map_err(RetryError::Refused)?;
            let refund = SessionRefund::sent_back(&record.deposit, plan, &session.destination, tx_hash, amount);
            let reason = refund.reason.clone();
            let Some(next) = session.record_refund(refund) else {
                return Ok(());
            };
            this.store.commit(SessionChange::new(&next)).await?;
            tracing::info!(session_id = %next.id, status = %next.status(), %reason, refund_tx = %tx_hash, "refund listed on the session");
            Ok(())
        })
        .await
        .map_err(|error| RouteError::from_retry(record.id(), error))
    }
}
