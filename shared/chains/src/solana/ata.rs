//! Associated token accounts: the one token account per (wallet, mint) that
//! wallets and Ferry's treasury use, at an address derived from both.

use solana_pubkey::Pubkey;

/// The classic SPL Token program (`TokenkegQ…`): the only token program the
/// registry's mints (USDC, USDT) use. Token-2022 mints are not supported.
pub const TOKEN_PROGRAM_ID: Pubkey = spl_token_interface::ID;

/// The associated token account program (`ATokenGP…`).
pub const ASSOCIATED_TOKEN_PROGRAM_ID: Pubkey = spl_associated_token_account_interface::program::ID;

/// The associated token account of `wallet` for `mint` under the classic SPL
/// Token program: the program address of the seeds `[wallet, token program,
/// mint]` under the associated token account program. It may not exist yet
/// on chain; deriving it reads nothing. Any wallet has one, on the curve or
/// not (a program-owned treasury too).
pub fn associated_token_account(wallet: &Pubkey, mint: &Pubkey) -> Pubkey {
    spl_associated_token_account_interface::address::get_associated_token_address_with_program_id(
        wallet,
        mint,
        &TOKEN_PROGRAM_ID,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(base58: &str) -> Pubkey {
        base58.parse().unwrap_or_else(|error| panic!("{base58}: {error:?}"))
    }

    #[test]
    fn the_program_ids_are_the_published_ones() {
        assert_eq!(TOKEN_PROGRAM_ID.to_string(), "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
        assert_eq!(ASSOCIATED_TOKEN_PROGRAM_ID.to_string(), "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL");
    }

    /// Published pairs from other SDKs' tests and examples: metaplex's
    /// Solana.Swift (`AssociatedTokenProgramTests`, mainnet USDC) and an
    /// `@solana/spl-token` `getAssociatedTokenAddress` example (devnet USDC).
    #[test]
    fn derives_the_published_associated_token_accounts() {
        let usdc = key("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v");
        let wallet = key("3h1zGmCwsRJnVk5BuRNMLsPaQu1y2aqXqXDWYCgrp5UG");
        assert_eq!(
            associated_token_account(&wallet, &usdc).to_string(),
            "3uetDDizgTtadDHZzyy9BqxrjQcozMEkxzbKhfZF4tG3"
        );

        let devnet_usdc = key("4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU");
        let owner = key("5waJka9MrCgPFoLo3SQSjLDTGnkoDcwYYPnpk4YNJS6i");
        assert_eq!(
            associated_token_account(&owner, &devnet_usdc).to_string(),
            "HmBpVD6N1vuGvQpS8KrwWH6Tr8rSwXQBEDKn5VXW6yyw"
        );
    }

    #[test]
    fn the_account_depends_on_wallet_and_mint_and_is_off_curve() {
        let usdc = key("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v");
        let usdt = key("Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB");
        let wallet = key("3h1zGmCwsRJnVk5BuRNMLsPaQu1y2aqXqXDWYCgrp5UG");
        let other = key("5waJka9MrCgPFoLo3SQSjLDTGnkoDcwYYPnpk4YNJS6i");
        let account = associated_token_account(&wallet, &usdc);
        assert_ne!(account, associated_token_account(&wallet, &usdt));
        assert_ne!(account, associated_token_account(&other, &usdc));
        // A program address: no private key can sign for it.
        assert!(!account.is_on_curve());
    }
}
