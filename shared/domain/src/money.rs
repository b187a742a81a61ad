//! Money: exact integers in a token's base units, written on the wire as
//! decimal strings in whole-token units. No floating point anywhere.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("must be a decimal string of digits with an optional fraction, such as \"10.50\"")]
    NotDecimal,
    #[error("has more than {max} decimal places, the token's precision")]
    TooPrecise { max: u8 },
    #[error("must be greater than zero")]
    NotPositive,
    #[error("is too large")]
    TooLarge,
}

/// An amount in a token's smallest unit (for a 6-decimal token, 1 USDC is
/// 1_000_000 base units). Stored as a decimal string so that every store and
/// JSON reader keeps all 128 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BaseUnits(u128);

impl BaseUnits {
    pub const fn new(units: u128) -> Self {
        Self(units)
    }

    pub const fn get(self) -> u128 {
        self.0
    }

    /// Parses a positive token amount such as `"10.50"` for a token with
    /// `decimals` decimal places. Exact: refuses rather than rounds.
    pub fn parse_token_amount(text: &str, decimals: u8) -> Result<Self, AmountError> {
        let (whole, fraction) = match text.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (text, ""),
        };
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let has_point = text.contains('.');
        if whole.is_empty() || !digits(whole) || !digits(fraction) || (has_point && fraction.is_empty()) {
            return Err(AmountError::NotDecimal);
        }
        if fraction.len() > usize::from(decimals) {
            return Err(AmountError::TooPrecise { max: decimals });
        }
        let scale = 10u128.checked_pow(u32::from(decimals)).ok_or(AmountError::TooLarge)?;
        let whole_units = whole
            .parse::<u128>()
            .map_err(|_| AmountError::TooLarge)?
            .checked_mul(scale)
            .ok_or(AmountError::TooLarge)?;
        let padding = usize::from(decimals) - fraction.len();
        let fraction_units = if fraction.is_empty() {
            0
        } else {
            let fraction_value = fraction.parse::<u128>().map_err(|_| AmountError::TooLarge)?;
            let pad = 10u128.checked_pow(padding as u32).ok_or(AmountError::TooLarge)?;
            fraction_value.checked_mul(pad).ok_or(AmountError::TooLarge)?
        };
        let units = whole_units.checked_add(fraction_units).ok_or(AmountError::TooLarge)?;
        if units == 0 {
            return Err(AmountError::NotPositive);
        }
        Ok(Self(units))
    }

    /// Formats as a decimal string in whole-token units: trailing zeros are
    /// dropped, but at least two decimal places are kept (as money is
    /// usually written) when the token has them: `10.00`, `10.50`, `0.000001`.
    pub fn to_token_amount(self, decimals: u8) -> String {
        let decimals = usize::from(decimals);
        let digits = format!("{:0>width$}", self.0, width = decimals + 1);
        let (whole, fraction) = digits.split_at(digits.len() - decimals);
        let keep = decimals.min(2);
        let trimmed = fraction.trim_end_matches('0');
        let fraction = if trimmed.len() >= keep { trimmed } else { &fraction[..keep] };
        if fraction.is_empty() { whole.to_string() } else { format!("{whole}.{fraction}") }
    }
}

impl fmt::Display for BaseUnits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for BaseUnits {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for BaseUnits {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map(Self).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_whole_and_fractional_amounts_exactly() {
        assert_eq!(BaseUnits::parse_token_amount("10", 6), Ok(BaseUnits(10_000_000)));
        assert_eq!(BaseUnits::parse_token_amount("10.00", 6), Ok(BaseUnits(10_000_000)));
        assert_eq!(BaseUnits::parse_token_amount("0.000001", 6), Ok(BaseUnits(1)));
        assert_eq!(BaseUnits::parse_token_amount("1.5", 18), Ok(BaseUnits(1_500_000_000_000_000_000)));
        assert_eq!(BaseUnits::parse_token_amount("007.10", 2), Ok(BaseUnits(710)));
    }

    #[test]
    fn refuses_what_is_not_a_plain_positive_decimal() {
        for bad in ["", ".", "1.", ".5", "-1", "+1", "1e6", "1,5", " 1", "1 ", "0x10", "١"] {
            assert_eq!(BaseUnits::parse_token_amount(bad, 6), Err(AmountError::NotDecimal), "{bad:?}");
        }
        assert_eq!(BaseUnits::parse_token_amount("0", 6), Err(AmountError::NotPositive));
        assert_eq!(BaseUnits::parse_token_amount("0.000", 6), Err(AmountError::NotPositive));
        assert_eq!(BaseUnits::parse_token_amount("0.0000001", 6), Err(AmountError::TooPrecise { max: 6 }));
        assert_eq!(BaseUnits::parse_token_amount(&"9".repeat(40), 6), Err(AmountError::TooLarge));
    }

    #[test]
    fn formats_with_at_least_two_decimal_places() {
        assert_eq!(BaseUnits(10_000_000).to_token_amount(6), "10.00");
        assert_eq!(BaseUnits(10_500_000).to_token_amount(6), "10.50");
        assert_eq!(BaseUnits(1).to_token_amount(6), "0.000001");
        assert_eq!(BaseUnits(1_234_567).to_token_amount(6), "1.234567");
        assert_eq!(BaseUnits(5).to_token_amount(0), "5");
        assert_eq!(BaseUnits(5).to_token_amount(1), "0.5");
        assert_eq!(BaseUnits(u128::MAX).to_token_amount(18), "340282366920938463463.374607431768211455");
    }

    proptest! {
        #[test]
        fn formatting_then_parsing_gives_back_the_same_units(units in 1u128.., decimals in 0u8..=38) {
            let text = BaseUnits(units).to_token_amount(decimals);
            prop_assert_eq!(BaseUnits::parse_token_amount(&text, decimals), Ok(BaseUnits(units)));
        }

        #[test]
        fn parsing_is_exact_for_any_whole_and_fraction(whole in 0u64.., fraction in 0u32..1_000_000) {
            let text = format!("{whole}.{fraction:06}");
            let expected = u128::from(whole) * 1_000_000 + u128::from(fraction);
            let parsed = BaseUnits::parse_token_amount(&text, 6);
            if expected == 0 {
                prop_assert_eq!(parsed, Err(AmountError::NotPositive));
            } else {
                prop_assert_eq!(parsed, Ok(BaseUnits(expected)));
            }
        }

        #[test]
        fn parsing_never_panics(text in "\\PC{0,50}", decimals in 0u8..=40) {
            let _ = BaseUnits::parse_token_amount(&text, decimals);
        }
    }
}
