use alloy_primitives::{Address, B256, b256, keccak256};
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

/// keccak256 of `FerryReceiver`'s creation code as built into
/// `contracts/out/` (`receiver-init-code-hash.txt`). It is a property of the
/// compiled contract, not configuration: a wrong value would send payers to
/// addresses no contract can ever sweep. A test holds it to the artifact.
pub const RECEIVER_INIT_CODE_HASH: B256 = b256!("0x70234fd046a5a71487a18fa2aac79866748901f2d660b16f4aaa34223298e3f1");

impl ReceiverDerivation {
    /// The receivers of the factory at `factory`.
    pub const fn new(factory: Address) -> Self {
        Self { factory, init_code_hash: RECEIVER_INIT_CODE_HASH }
    }

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
    use alloy_primitives::address;

    #[test]
    fn the_init_code_hash_is_the_compiled_receivers() {
        let file = include_str!("../../../../contracts/out/receiver-init-code-hash.txt");
        assert_eq!(file.trim(), RECEIVER_INIT_CODE_HASH.to_string());
        let artifact: serde_json::Value =
            serde_json::from_str(include_str!("../../../../contracts/out/FerryReceiver.json")).expect("artifact");
        let bytecode = artifact["bytecode"]["object"].as_str().expect("bytecode");
        let bytes: Vec<u8> =
            (2..bytecode.len()).step_by(2).map(|i| u8::from_str_radix(&bytecode[i..i + 2], 16).expect("hex")).collect();
        assert_eq!(keccak256(bytes), RECEIVER_INIT_CODE_HASH);
    }

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
