//! The relayer: Ferry's hot wallet on one chain. It has the receiver
//! factory sweep deposits (straight to the destination, with a contract
//! call, or back to the payer) and pays out from its own inventory.
//!
//! Sends are serialized per relayer and nonces handed out here, so two
//! payouts from one process never collide; the payout id makes the factory
//! refuse to pay the same payout twice, so a retry after a crash can never
//! pay twice either.
//!
//! The relayer signs with any [`EthereumWallet`]: a local key for
//! development ([`local_wallet`]), or — with the `kms` feature — a
//! secp256k1 key that never leaves AWS KMS ([`kms_signer`]).

use std::time::Duration;

pub use alloy::network::EthereumWallet;
use alloy::network::{TransactionBuilder, TxSigner};
use alloy::primitives::{Address, B256, Bytes, FixedBytes, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, TransactionReceipt, TransactionRequest};
use alloy::signers::Signer;
#[cfg(feature = "kms")]
use alloy::signers::aws::AwsSigner;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use ferry_domain::{ChainId, SessionId};
use tokio::sync::Mutex;

use super::client::{BoxError, ChainError};
use super::contracts::FerryFactory;
use crate::redact::Redacted;

/// How long a sent transaction may take to be mined before the relayer
/// gives up waiting (the transaction may still be mined later; callers
/// resume from their records).
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// Funds moved by one relayer transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Moved {
    pub tx_hash: B256,
    pub amount: U256,
    /// With a contract call: whether it succeeded (`false`: the funds went
    /// to the refund address instead).
    pub delivered: bool,
}

/// A contract call to make with delivered funds.
#[derive(Clone, Debug)]
pub struct ContractCall {
    pub target: Address,
    pub data: Bytes,
    /// Gas given to the call itself; the rest of the transaction is estimated.
    pub gas: u64,
    pub refund_to: Address,
}

pub struct Relayer {
    chain_id: ChainId,
    address: Address,
    provider: DynProvider,
    factory: FerryFactory::FerryFactoryInstance<DynProvider>,
    /// The next nonce to use, once known; the lock serializes sends.
    next_nonce: Mutex<Option<u64>>,
}

fn session_bytes(session: &SessionId) -> FixedBytes<16> {
    FixedBytes(*session.as_bytes())
}

/// A wallet signing with one local private key (32 bytes). For local
/// development and tests: deployments sign with [`kms_signer`]. With
/// `chain_id`, it refuses to sign for another chain (a node that serves
/// the wrong chain then cannot get a transaction sent there).
pub fn local_wallet(key: &B256, chain_id: Option<ChainId>) -> Result<EthereumWallet, BoxError> {
    let signer = PrivateKeySigner::from_bytes(key)?.with_chain_id(chain_id.map(ChainId::get));
    Ok(EthereumWallet::from(signer))
}

/// A signer whose secp256k1 key (`ECC_SECG_P256K1`, `SIGN_VERIFY`) stays in
/// AWS KMS: each signature is one `kms:Sign`; building it reads the public
/// key once (`kms:GetPublicKey`) to learn the address. With `chain_id`, it
/// refuses to sign for another chain; without, set one per chain with
/// [`alloy::signers::Signer::with_chain_id`] on a clone.
#[cfg(feature = "kms")]
pub async fn kms_signer(
    client: aws_sdk_kms::Client,
    key_id: impl Into<String>,
    chain_id: Option<ChainId>,
) -> Result<AwsSigner, BoxError> {
    Ok(AwsSigner::new(client, key_id.into(), chain_id.map(ChainId::get)).await?)
}

impl Relayer {
    /// A relayer on `chain_id`'s node at `url`, sending from the wallet's
    /// default signer (whose address is the relayer's) through the
    /// receiver `factory`.
    pub fn connect(chain_id: ChainId, url: &str, wallet: EthereumWallet, factory: Address) -> Result<Self, ChainError> {
        let client = super::transport::rpc_client(chain_id, url, super::transport::RpcOptions::WORKER)?;
        let address = wallet.default_signer().address();
        let provider = ProviderBuilder::new().wallet(wallet).connect_client(client).erased();
        let factory = FerryFactory::new(factory, provider.clone());
        Ok(Self { chain_id, address, provider, factory, next_nonce: Mutex::new(None) })
    }

    pub fn address(&self) -> Address {
        self.address
    }

    pub fn chain_id(&self) -> ChainId {
        self.chain_id
    }

    /// The chain's current block: where a later search for this relayer's
    /// transactions can start.
    pub async fn block_number(&self) -> Result<u64, ChainError> {
        self.provider.get_block_number().await.map_err(|e| self.failed("reading the block number", e))
    }

    pub fn factory_address(&self) -> Address {
        *self.factory.address()
    }

    /// A failed transaction step; the cause is kept only as redacted text,
    /// since node errors quote the RPC URL.
    fn failed(&self, what: &'static str, source: impl Into<BoxError>) -> ChainError {
        let source: BoxError = source.into();
        ChainError::Transaction { chain: self.chain_id, what, source: Box::new(Redacted::of(source.as_ref())) }
    }

    /// Sends `tx`, and waits for its receipt. `before_send` gets the
    /// relayer's next nonce first (to record an intent) and answers the nonce
    /// to use: that one, or the nonce of an earlier attempt to replace.
    async fn send<F, Fut>(
        &self,
        what: &'static str,
        tx: TransactionRequest,
        before_send: F,
    ) -> Result<TransactionReceipt, ChainError>
    where
        F: FnOnce(u64) -> Fut,
        Fut: Future<Output = Result<u64, BoxError>>,
    {
        let pending = {
            let mut next_nonce = self.next_nonce.lock().await;
            let proposed = match *next_nonce {
                Some(nonce) => nonce,
                None => self
                    .provider
                    .get_transaction_count(self.address)
                    .pending()
                    .await
                    .map_err(|e| self.failed("reading the relayer's nonce", e))?,
            };
            // The caller may take an earlier nonce: a retry replaces its own
            // earlier transaction instead of adding a second one.
            let nonce = before_send(proposed).await.map_err(|e| self.failed(what, e))?;
            let tx = tx.with_from(self.address).with_nonce(nonce);
            match self.provider.send_transaction(tx).await {
                Ok(pending) => {
                    *next_nonce = Some(proposed.max(nonce + 1));
                    pending
                }
                Err(error) => {
                    // Re-read the nonce next time: this one may or may not be used.
                    *next_nonce = None;
                    return Err(self.failed(what, error));
                }
            }
        };
        let tx_hash = *pending.tx_hash();
        let receipt =
            pending.with_timeout(Some(RECEIPT_TIMEOUT)).get_receipt().await.map_err(|e| self.failed(what, e))?;
        if !receipt.inner.status() {
            return Err(self.failed(what, format!("transaction {tx_hash} reverted")));
        }
        Ok(receipt)
    }

    fn event<E: SolEvent>(receipt: &TransactionReceipt) -> Option<E> {
        receipt.inner.logs().iter().find_map(|log| log.log_decode::<E>().ok().map(|decoded| decoded.inner.data))
    }

    /// Has the factory move exactly `amount` of `token` out of the
    /// session's receiver (deploying it if needed) to `to`, or with `call`,
    /// approved to and called on the target, refunding if the call reverts.
    /// `id` names the movement: the factory performs each id at most once.
    pub async fn sweep(
        &self,
        id: B256,
        session: &SessionId,
        token: Address,
        amount: U256,
        to: Address,
        call: Option<&ContractCall>,
    ) -> Result<Moved, ChainError> {
        let session_id = session_bytes(session);
        let Some(call) = call else {
            let tx = self.factory.sweep(id, session_id, token, amount, to).into_transaction_request();
            let receipt = self.send("sweep", tx, |nonce| async move { Ok(nonce) }).await?;
            let swept =
                Self::event::<FerryFactory::Swept>(&receipt).ok_or_else(|| self.failed("sweep", "no Swept event"))?;
            return Ok(Moved { tx_hash: receipt.transaction_hash, amount: swept.amount, delivered: true });
        };
        let tx = self
            .factory
            .sweepAndCall(
                id,
                session_id,
                token,
                amount,
                call.target,
                call.data.clone(),
                U256::from(call.gas),
                call.refund_to,
            )
            .into_transaction_request();
        let receipt = self.send("sweep and call", tx, |nonce| async move { Ok(nonce) }).await?;
        self.call_outcome::<FerryFactory::CallDelivered, FerryFactory::CallFailedRefunded>(
            &receipt,
            |d| d.amount.saturating_sub(d.refunded),
            |f| f.amount,
        )
    }

    fn call_outcome<D: SolEvent, F: SolEvent>(
        &self,
        receipt: &TransactionReceipt,
        delivered_amount: impl Fn(&D) -> U256,
        refunded_amount: impl Fn(&F) -> U256,
    ) -> Result<Moved, ChainError> {
        let tx_hash = receipt.transaction_hash;
        if let Some(delivered) = Self::event::<D>(receipt) {
            return Ok(Moved { tx_hash, amount: delivered_amount(&delivered), delivered: true });
        }
        if let Some(refunded) = Self::event::<F>(receipt) {
            return Ok(Moved { tx_hash, amount: refunded_amount(&refunded), delivered: false });
        }
        Err(self.failed("contract call", "neither a delivered nor a refunded event"))
    }

    /// Pays `amount` of `token` to `to` from the relayer's inventory (or
    /// with `call`), under `payout_id`, which the factory pays at most once.
    /// `before_send` gets the nonce before the transaction leaves.
    pub async fn pay<F, Fut>(
        &self,
        payout_id: B256,
        token: Address,
        amount: U256,
        to: Address,
        call: Option<&ContractCall>,
        before_send: F,
    ) -> Result<Moved, ChainError>
    where
        F: FnOnce(u64) -> Fut,
        Fut: Future<Output = Result<u64, BoxError>>,
    {
        let Some(call) = call else {
            let tx = self.factory.pay(payout_id, token, amount, to).into_transaction_request();
            let receipt = self.send("payout", tx, before_send).await?;
            let paid =
                Self::event::<FerryFactory::Paid>(&receipt).ok_or_else(|| self.failed("payout", "no Paid event"))?;
            return Ok(Moved { tx_hash: receipt.transaction_hash, amount: paid.amount, delivered: true });
        };
        let tx = self
            .factory
            .payAndCall(payout_id, token, amount, call.target, call.data.clone(), U256::from(call.gas), call.refund_to)
            .into_transaction_request();
        let receipt = self.send("payout and call", tx, before_send).await?;
        self.call_outcome::<FerryFactory::PayoutCallDelivered, FerryFactory::PayoutCallFailedRefunded>(
            &receipt,
            |d| d.amount.saturating_sub(d.refunded),
            |f| f.amount,
        )
    }

    /// The movement the factory made under `id` (a sweep or a payout), if
    /// it made one: how a retry learns that its first attempt went through.
    pub async fn find_done(&self, id: B256, from_block: u64) -> Result<Option<Moved>, ChainError> {
        let done = self.factory.done(id).call().await.map_err(|e| self.failed("reading done", e))?;
        if !done {
            return Ok(None);
        }
        let filter = Filter::new()
            .address(self.factory_address())
            .event_signature(vec![
                FerryFactory::Swept::SIGNATURE_HASH,
                FerryFactory::CallDelivered::SIGNATURE_HASH,
                FerryFactory::CallFailedRefunded::SIGNATURE_HASH,
                FerryFactory::Paid::SIGNATURE_HASH,
                FerryFactory::PayoutCallDelivered::SIGNATURE_HASH,
                FerryFactory::PayoutCallFailedRefunded::SIGNATURE_HASH,
            ])
            .topic1(id)
            .from_block(from_block);
        let logs = self.provider.get_logs(&filter).await.map_err(|e| self.failed("finding a movement", e))?;
        let Some(log) = logs.first() else {
            return Err(self.failed("finding a movement", format!("{id} is done but has no event")));
        };
        let tx_hash =
            log.transaction_hash.ok_or_else(|| self.failed("finding a movement", "log without a transaction"))?;
        let (amount, delivered) = if let Ok(e) = log.log_decode::<FerryFactory::Swept>() {
            (e.inner.data.amount, true)
        } else if let Ok(e) = log.log_decode::<FerryFactory::CallDelivered>() {
            (e.inner.data.amount.saturating_sub(e.inner.data.refunded), true)
        } else if let Ok(e) = log.log_decode::<FerryFactory::CallFailedRefunded>() {
            (e.inner.data.amount, false)
        } else if let Ok(e) = log.log_decode::<FerryFactory::Paid>() {
            (e.inner.data.amount, true)
        } else if let Ok(e) = log.log_decode::<FerryFactory::PayoutCallDelivered>() {
            (e.inner.data.amount.saturating_sub(e.inner.data.refunded), true)
        } else if let Ok(e) = log.log_decode::<FerryFactory::PayoutCallFailedRefunded>() {
            (e.inner.data.amount, false)
        } else {
            return Err(self.failed("finding a movement", "unrecognised event"));
        };
        Ok(Some(Moved { tx_hash, amount, delivered }))
    }
}

#[cfg(test)]
mod tests {
    use alloy::consensus::TxLegacy;

    use super::*;

    #[tokio::test]
    async fn a_chain_bound_wallet_signs_for_its_chain_only() {
        // anvil account 2's well-known key.
        let key: B256 = super::super::local::RELAYER_KEY.parse().expect("key");
        let wallet = local_wallet(&key, Some(ChainId::new(8453))).expect("wallet");
        let signer = wallet.default_signer();
        assert_eq!(signer.address(), super::super::local::signer(super::super::local::RELAYER_KEY).address());

        let mut other_chain = TxLegacy { chain_id: Some(1), ..TxLegacy::default() };
        assert!(signer.sign_transaction(&mut other_chain).await.is_err());
        let mut own_chain = TxLegacy { chain_id: Some(8453), ..TxLegacy::default() };
        assert!(signer.sign_transaction(&mut own_chain).await.is_ok());
    }
}
