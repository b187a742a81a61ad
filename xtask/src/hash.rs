//! A small stable hash (FNV-1a, 64 bit): it names the tools venv after the
//! contents of `xtask/requirements.txt`, and records which `package.json` and
//! `package-lock.json` `contracts/node_modules` was installed from, and names
//! the npm installations (`xtask/anvil`, `tests/js`, `tests/solana`) after their manifests.

const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(OFFSET_BASIS, |hash, &byte| (hash ^ u64::from(byte)).wrapping_mul(PRIME))
}

/// The first 12 hex digits of the FNV-1a 64 hash of `bytes`.
pub fn short_hex(bytes: &[u8]) -> String {
    format!("{:016x}", fnv1a64(bytes))[..12].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn short_hex_is_twelve_digits() {
        assert_eq!(short_hex(b"a"), "af63dc4c8601");
        assert_eq!(short_hex(b"").len(), 12);
    }
}
