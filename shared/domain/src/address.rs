//! EVM addresses, transaction hashes and calldata.

use std::fmt;
use std::str::FromStr;

use alloy_primitives::{Address, B256, Bytes};

use crate::ids::string_serde;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("must be an EVM address: 0x followed by 40 hexadecimal characters")]
    NotAnAddress,
    #[error("has mixed-case letters that are not a valid EIP-55 checksum (a typo?)")]
    BadChecksum,
    #[error("must be a transaction hash: 0x followed by 64 hexadecimal characters")]
    NotATxHash,
    #[error("must be 0x followed by an even number of hexadecimal characters")]
    NotHexData,
    #[error("must be at most {max} bytes")]
    TooLong { max: usize },
}

fn hex_body(s: &str, len: usize) -> Option<&str> {
    let body = s.strip_prefix("0x")?;
    (body.len() == len && body.bytes().all(|b| b.is_ascii_hexdigit())).then_some(body)
}

/// An EVM account or contract address. Accepted in any case; a mixed-case
/// address must carry a valid EIP-55 checksum. Displayed checksummed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EvmAddress(Address);

impl EvmAddress {
    pub const fn new(address: Address) -> Self {
        Self(address)
    }

    pub const fn into_inner(self) -> Address {
        self.0
    }

    /// The lowercase form, used as a lookup key.
    pub fn to_lowercase_hex(&self) -> String {
        format!("{:#x}", self.0)
    }
}

impl FromStr for EvmAddress {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, AddressError> {
        let body = hex_body(s, 40).ok_or(AddressError::NotAnAddress)?;
        let address = Address::from_str(body).map_err(|_| AddressError::NotAnAddress)?;
        let has_lower = body.bytes().any(|b| b.is_ascii_lowercase());
        let has_upper = body.bytes().any(|b| b.is_ascii_uppercase());
        if has_lower && has_upper && address.to_checksum(None) != s {
            return Err(AddressError::BadChecksum);
        }
        Ok(Self(address))
    }
}

impl fmt::Display for EvmAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_checksum(None))
    }
}

impl fmt::Debug for EvmAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EvmAddress({self})")
    }
}
string_serde!(EvmAddress);

/// An EVM transaction hash, displayed as lowercase `0x` hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TxHash(B256);

impl TxHash {
    pub const fn new(hash: B256) -> Self {
        Self(hash)
    }

    pub const fn into_inner(self) -> B256 {
        self.0
    }
}

impl FromStr for TxHash {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, AddressError> {
        let body = hex_body(s, 64).ok_or(AddressError::NotATxHash)?;
        B256::from_str(body).map(Self).map_err(|_| AddressError::NotATxHash)
    }
}

impl fmt::Display for TxHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::Debug for TxHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TxHash({self})")
    }
}
string_serde!(TxHash);

/// Data for the contract call made after delivery. Bounded so that one
/// session cannot carry an arbitrarily large payload.
#[derive(Clone, PartialEq, Eq)]
pub struct Calldata(Bytes);

impl Calldata {
    pub const MAX_BYTES: usize = 16 * 1024;

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl FromStr for Calldata {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, AddressError> {
        let body = s.strip_prefix("0x").ok_or(AddressError::NotHexData)?;
        if body.len() % 2 != 0 || !body.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AddressError::NotHexData);
        }
        if body.len() / 2 > Self::MAX_BYTES {
            return Err(AddressError::TooLong { max: Self::MAX_BYTES });
        }
        hex::decode(body).map(|bytes| Self(bytes.into())).map_err(|_| AddressError::NotHexData)
    }
}

impl fmt::Display for Calldata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(&self.0))
    }
}

impl fmt::Debug for Calldata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Calldata({self})")
    }
}
string_serde!(Calldata);

#[cfg(test)]
mod tests {
    use super::*;

    const USDC_BASE: &str = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";

    #[test]
    fn addresses_are_returned_checksummed_whatever_case_they_came_in() {
        for input in [USDC_BASE.to_string(), USDC_BASE.to_lowercase(), format!("0x{}", USDC_BASE[2..].to_uppercase())] {
            let parsed: EvmAddress = input.parse().expect("valid address");
            assert_eq!(parsed.to_string(), USDC_BASE);
        }
    }

    #[test]
    fn a_mixed_case_address_with_a_wrong_checksum_is_refused() {
        let typo = USDC_BASE.replace("fCD6", "fcD6");
        assert_eq!(typo.parse::<EvmAddress>(), Err(AddressError::BadChecksum));
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "",
            "0x",
            "833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
            "0x833589",
            "0xZZ3589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
            " 0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
        ] {
            assert_eq!(bad.parse::<EvmAddress>(), Err(AddressError::NotAnAddress), "{bad:?}");
        }
    }

    #[test]
    fn calldata_must_be_even_length_hex_within_bounds() {
        assert_eq!("0xa9059cbb".parse::<Calldata>().map(|c| c.to_string()), Ok("0xa9059cbb".into()));
        assert_eq!("0x".parse::<Calldata>().map(|c| c.as_bytes().len()), Ok(0));
        assert_eq!("0xabc".parse::<Calldata>(), Err(AddressError::NotHexData));
        assert_eq!("a9059cbb".parse::<Calldata>(), Err(AddressError::NotHexData));
        let huge = format!("0x{}", "00".repeat(Calldata::MAX_BYTES + 1));
        assert_eq!(huge.parse::<Calldata>(), Err(AddressError::TooLong { max: Calldata::MAX_BYTES }));
    }

    #[test]
    fn tx_hashes_are_0x_and_64_hex() {
        let hash = format!("0x{}", "ab".repeat(32));
        assert_eq!(hash.parse::<TxHash>().map(|h| h.to_string()), Ok(hash));
        assert_eq!("0x1234".parse::<TxHash>(), Err(AddressError::NotATxHash));
    }
}
