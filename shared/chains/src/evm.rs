use alloy_primitives::{Address, B256, keccak256};
use ferry_domain::{EvmAddress, SessionId};

/// Derives each session's deposit address: the address at which the
/// receiver factory deploys (or will deploy) that session's receiver,
///
/// `CREATE2(factory, salt = keccak256(session id bytes), receiver init-code hash)`.
///
/// The address is the same on every chain where the factory lives at the
/// same address, and funds may arrive before anything is deployed there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceiverDerivation {
    pub factory: Address,
    pub init_code_hash: B256,
}

impl ReceiverDerivation {
    /// The CREATE2 salt for a session: keccak256 of its 16 id bytes.
    pub fn salt(session: &SessionId) -> B256 {
        keccak256(session.as_bytes())
    }

    pub fn receiver(&self, session: &SessionId) -> EvmAddress {
        EvmAddress::new(self.factory.create2(Self::salt(session), self.init_code_hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, b256};

    #[test]
    fn receivers_follow_the_create2_formula() {
        let derivation = ReceiverDerivation {
            factory: address!("0x5FbDB2315678afecb367f032d93F642f64180aa3"),
            init_code_hash: b256!("0x1111111111111111111111111111111111111111111111111111111111111111"),
        };
        let session = SessionId::from_bytes([0x42; 16]);
        // keccak256(0xff ++ factory ++ salt ++ init_code_hash)[12..], computed independently:
        let mut preimage = vec![0xff];
        preimage.extend_from_slice(derivation.factory.as_slice());
        preimage.extend_from_slice(keccak256([0x42u8; 16]).as_slice());
        preimage.extend_from_slice(derivation.init_code_hash.as_slice());
        let expected = Address::from_slice(&keccak256(&preimage)[12..]);
        assert_eq!(derivation.receiver(&session).into_inner(), expected);
    }

    #[test]
    fn each_session_gets_its_own_receiver() {
        let derivation = ReceiverDerivation { factory: Address::repeat_byte(1), init_code_hash: B256::repeat_byte(2) };
        let a = derivation.receiver(&SessionId::from_bytes([1; 16]));
        let b = derivation.receiver(&SessionId::from_bytes([2; 16]));
        assert_ne!(a, b);
        assert_eq!(a, derivation.receiver(&SessionId::from_bytes([1; 16])));
    }
}
