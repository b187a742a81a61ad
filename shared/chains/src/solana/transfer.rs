//! The payer's transaction: what `POST …/paymentMethods` `{"type":"solana"}`
//! answers as `serializedTx`, for the payer's wallet to sign and send.
//!
//! An unsigned v0 transaction with one zeroed signature (the wallet's, at
//! account 0 as the fee payer), the recent blockhash it is given, no address
//! lookup tables, two compute-budget instructions, and one classic SPL Token
//! `TransferChecked` (data `[12, amount u64 LE, decimals]`, accounts
//! `[wallet's token account (writable), mint, treasury token account
//! (writable), wallet (signer)]`) followed by the session's reference as an
//! extra read-only, non-signer account, as Solana Pay does: the token
//! program ignores accounts past the ones it needs, and the reference lands
//! in the transaction's account keys, where detection finds it.
//!
//! Nothing here reads the chain: a brand-new wallet still gets its
//! transaction (if it holds too little, the runtime refuses the transfer).

use solana_compute_budget_interface::ComputeBudgetInstruction;
use solana_hash::Hash;
use solana_message::{AccountMeta, CompileError, Instruction, VersionedMessage, v0};
use solana_pubkey::Pubkey;
use solana_signature::Signature;
use solana_transaction::versioned::VersionedTransaction;

use super::ata::{TOKEN_PROGRAM_ID, associated_token_account};
use super::reference::Reference;

/// The compute units the transaction may use. `TransferChecked` costs about
/// 6,200 units under the original SPL Token program and a few hundred under
/// its p-token rewrite at the same address (the offline runtime runs that
/// one: 458 units for the whole transaction), each compute-budget
/// instruction 150; 20,000 covers either with three times the room while
/// staying far below the default (200,000 per instruction): the priority fee
/// is paid on the limit, not on the use, and schedulers favour small limits.
/// The offline runtime test checks the use against it.
pub const COMPUTE_UNIT_LIMIT: u32 = 20_000;

/// The default priority price, in micro-lamports per compute unit:
/// 100,000 × [`COMPUTE_UNIT_LIMIT`] = 2,000 lamports on top of the 5,000
/// lamport signature fee, enough to be scheduled promptly when blocks are
/// busy at a cost the payer does not notice. A caller with fresher data
/// (recent prioritization fees) sets [`Payment::compute_unit_price`] instead.
pub const DEFAULT_COMPUTE_UNIT_PRICE: u64 = 100_000;

/// What one payment transfers, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Payment {
    /// The payer: signs, pays the fee, and owns the source token account.
    pub wallet: Pubkey,
    /// The token's mint (classic SPL Token program).
    pub mint: Pubkey,
    /// The mint's decimals, which `TransferChecked` makes the runtime check
    /// (6 for every stablecoin of the registry).
    pub decimals: u8,
    /// Ferry's treasury wallet: the owner of the token accounts that receive
    /// every payment (created once by an operator, never by the payer).
    pub treasury: Pubkey,
    /// In the token's smallest units.
    pub amount: u64,
    /// The session's reference key.
    pub reference: Reference,
    /// Micro-lamports per compute unit ([`DEFAULT_COMPUTE_UNIT_PRICE`]).
    pub compute_unit_price: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("the wallet {0} is not on the ed25519 curve: no private key can sign for it")]
    WalletOffCurve(Pubkey),
    #[error("the amount must be more than zero")]
    ZeroAmount,
    #[error("the wallet {0} is Ferry's treasury: a payment from it would move nothing")]
    WalletIsTreasury(Pubkey),
    #[error("cannot build the token transfer instruction")]
    Instruction(#[source] solana_program_error::ProgramError),
    #[error("cannot compile the transaction's message")]
    Compile(#[source] CompileError),
    #[error("cannot serialize the transaction")]
    Serialize(#[source] bincode::Error),
}

impl Payment {
    /// The wallet's token account for the mint: the transfer's source.
    pub fn source(&self) -> Pubkey {
        associated_token_account(&self.wallet, &self.mint)
    }

    /// The treasury's token account for the mint: the transfer's destination.
    pub fn destination(&self) -> Pubkey {
        associated_token_account(&self.treasury, &self.mint)
    }

    /// The instructions, in order: the compute unit limit, the compute unit
    /// price, and the transfer carrying the reference.
    fn instructions(&self) -> Result<[Instruction; 3], TransferError> {
        let mut transfer = spl_token_interface::instruction::transfer_checked(
            &TOKEN_PROGRAM_ID,
            &self.source(),
            &self.mint,
            &self.destination(),
            &self.wallet,
            &[],
            self.amount,
            self.decimals,
        )
        .map_err(TransferError::Instruction)?;
        transfer.accounts.push(AccountMeta::new_readonly(self.reference.to_pubkey(), false));
        Ok([
            ComputeBudgetInstruction::set_compute_unit_limit(COMPUTE_UNIT_LIMIT),
            ComputeBudgetInstruction::set_compute_unit_price(self.compute_unit_price),
            transfer,
        ])
    }
}

/// The payer's unsigned transaction for `payment`, valid while
/// `recent_blockhash` is (about 150 blocks, a minute or so).
pub fn unsigned_transaction(payment: &Payment, recent_blockhash: Hash) -> Result<VersionedTransaction, TransferError> {
    if !payment.wallet.is_on_curve() {
        return Err(TransferError::WalletOffCurve(payment.wallet));
    }
    if payment.amount == 0 {
        return Err(TransferError::ZeroAmount);
    }
    if payment.wallet == payment.treasury {
        return Err(TransferError::WalletIsTreasury(payment.wallet));
    }
    let instructions = payment.instructions()?;
    let message = v0::Message::try_compile(&payment.wallet, &instructions, &[], recent_blockhash)
        .map_err(TransferError::Compile)?;
    let signatures = vec![Signature::default(); usize::from(message.header.num_required_signatures)];
    Ok(VersionedTransaction { signatures, message: VersionedMessage::V0(message) })
}

/// The wire form: the transaction's bincode bytes (Solana's own encoding) as
/// lowercase `0x`-hex, which the followed API's JS client hex-decodes into a
/// `VersionedTransaction`.
pub fn serialize_hex(transaction: &VersionedTransaction) -> Result<String, TransferError> {
    let bytes = bincode::serialize(transaction).map_err(TransferError::Serialize)?;
    Ok(alloy_primitives::hex::encode_prefixed(bytes))
}

#[cfg(test)]
mod tests {
    use ferry_domain::SessionId;
    use solana_message::MessageHeader;

    use super::*;

    fn key(base58: &str) -> Pubkey {
        base58.parse().unwrap_or_else(|error| panic!("{base58}: {error:?}"))
    }

    const COMPUTE_BUDGET_PROGRAM_ID: &str = "ComputeBudget111111111111111111111111111111";

    fn payment() -> Payment {
        Payment {
            // On the curve: the metaplex Solana.Swift test wallet.
            wallet: key("3h1zGmCwsRJnVk5BuRNMLsPaQu1y2aqXqXDWYCgrp5UG"),
            mint: key("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"),
            decimals: 6,
            treasury: key("5waJka9MrCgPFoLo3SQSjLDTGnkoDcwYYPnpk4YNJS6i"),
            amount: 10_500_000,
            reference: Reference::for_session(&SessionId::from_bytes([7; 16])),
            compute_unit_price: DEFAULT_COMPUTE_UNIT_PRICE,
        }
    }

    fn blockhash() -> Hash {
        Hash::new_from_array([0xab; 32])
    }

    fn v0(transaction: &VersionedTransaction) -> &v0::Message {
        match &transaction.message {
            VersionedMessage::V0(message) => message,
            other => panic!("not a v0 message: {other:?}"),
        }
    }

    #[test]
    fn is_an_unsigned_v0_transaction_paid_by_the_wallet() {
        let payment = payment();
        let transaction = unsigned_transaction(&payment, blockhash()).expect("transaction");
        assert_eq!(transaction.signatures, vec![Signature::default()]);
        let message = v0(&transaction);
        assert_eq!(message.account_keys[0], payment.wallet);
        assert_eq!(message.recent_blockhash, blockhash());
        assert!(message.address_table_lookups.is_empty());
        // Seven keys: the wallet (the one signer, writable), the two token
        // accounts (writable), then the mint, the reference and the two
        // programs (read-only).
        assert_eq!(
            message.header,
            MessageHeader {
                num_required_signatures: 1,
                num_readonly_signed_accounts: 0,
                num_readonly_unsigned_accounts: 4
            }
        );
        assert_eq!(message.account_keys.len(), 7);
    }

    #[test]
    fn sets_the_compute_budget_then_transfers_checked_with_the_reference() {
        let payment = payment();
        let transaction = unsigned_transaction(&payment, blockhash()).expect("transaction");
        let message = v0(&transaction);
        let keys = &message.account_keys;
        let program = |index: usize| keys[usize::from(message.instructions[index].program_id_index)];
        assert_eq!(message.instructions.len(), 3);

        assert_eq!(program(0), key(COMPUTE_BUDGET_PROGRAM_ID));
        let mut limit = vec![2];
        limit.extend_from_slice(&COMPUTE_UNIT_LIMIT.to_le_bytes());
        assert_eq!(message.instructions[0].data, limit);
        assert_eq!(program(1), key(COMPUTE_BUDGET_PROGRAM_ID));
        let mut price = vec![3];
        price.extend_from_slice(&DEFAULT_COMPUTE_UNIT_PRICE.to_le_bytes());
        assert_eq!(message.instructions[1].data, price);

        let transfer = &message.instructions[2];
        assert_eq!(program(2), TOKEN_PROGRAM_ID);
        let mut data = vec![12];
        data.extend_from_slice(&10_500_000u64.to_le_bytes());
        data.push(6);
        assert_eq!(transfer.data, data);
        let accounts: Vec<Pubkey> = transfer.accounts.iter().map(|&index| keys[usize::from(index)]).collect();
        let source = associated_token_account(&payment.wallet, &payment.mint);
        let destination = associated_token_account(&payment.treasury, &payment.mint);
        assert_eq!(accounts, [source, payment.mint, destination, payment.wallet, payment.reference.to_pubkey()]);
        assert_eq!((payment.source(), payment.destination()), (source, destination));

        // The header's split of the keys: writable signers, read-only
        // signers, writable non-signers, read-only non-signers.
        let header = message.header;
        let writable = |account: Pubkey| {
            let index = keys.iter().position(|key| *key == account).expect("listed");
            let signers = usize::from(header.num_required_signatures);
            if index < signers {
                index < signers - usize::from(header.num_readonly_signed_accounts)
            } else {
                index < keys.len() - usize::from(header.num_readonly_unsigned_accounts)
            }
        };
        assert!(writable(source) && writable(destination) && writable(payment.wallet));
        assert!(!writable(payment.mint) && !writable(payment.reference.to_pubkey()));
        let signer = |account: Pubkey| {
            keys.iter().position(|key| *key == account).expect("listed")
                < usize::from(message.header.num_required_signatures)
        };
        assert!(signer(payment.wallet) && !signer(payment.reference.to_pubkey()));
    }

    #[test]
    fn serializes_as_lowercase_hex_of_solanas_encoding() {
        let transaction = unsigned_transaction(&payment(), blockhash()).expect("transaction");
        let hex = serialize_hex(&transaction).expect("hex");
        let digits = hex.strip_prefix("0x").expect("0x prefix");
        assert!(digits.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')), "{hex}");
        let bytes = alloy_primitives::hex::decode(digits).expect("hex digits");
        // One signature (short-vec length 1), 64 zero bytes, the v0 prefix
        // (0x80), then the header.
        assert_eq!(bytes[0], 1);
        assert!(bytes[1..65].iter().all(|&b| b == 0));
        assert_eq!(bytes[65..69], [0x80, 1, 0, 4]);
        let decoded: VersionedTransaction = bincode::deserialize(&bytes).expect("decodes");
        assert_eq!(decoded, transaction);
        // Well under the 1,232-byte packet limit.
        assert!(bytes.len() < 400, "{} bytes", bytes.len());
    }

    #[test]
    fn refuses_a_wallet_off_the_curve() {
        // A token account is a program address: no key can sign for it.
        let mut payment = payment();
        payment.wallet = associated_token_account(&payment.wallet, &payment.mint);
        let error = unsigned_transaction(&payment, blockhash()).expect_err("off curve");
        assert!(matches!(error, TransferError::WalletOffCurve(wallet) if wallet == payment.wallet), "{error:?}");
    }

    #[test]
    fn refuses_a_zero_amount() {
        let payment = Payment { amount: 0, ..payment() };
        let error = unsigned_transaction(&payment, blockhash()).expect_err("zero");
        assert!(matches!(error, TransferError::ZeroAmount), "{error:?}");
    }

    #[test]
    fn refuses_the_treasury_paying_itself() {
        let base = payment();
        let payment = Payment { treasury: base.wallet, ..base };
        let error = unsigned_transaction(&payment, blockhash()).expect_err("treasury");
        assert!(matches!(error, TransferError::WalletIsTreasury(_)), "{error:?}");
    }

    #[test]
    fn the_same_payment_and_blockhash_give_the_same_bytes() {
        let first = serialize_hex(&unsigned_transaction(&payment(), blockhash()).expect("tx")).expect("hex");
        let again = serialize_hex(&unsigned_transaction(&payment(), blockhash()).expect("tx")).expect("hex");
        assert_eq!(first, again);
        let fresh = serialize_hex(&unsigned_transaction(&payment(), Hash::new_from_array([1; 32])).expect("tx"));
        assert_ne!(fresh.expect("hex"), first);
    }
}
