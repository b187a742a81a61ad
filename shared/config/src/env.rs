//! The one way configuration reads variables, so that "unset", "empty" and
//! "malformed" mean the same for every function: a blank value is unset,
//! and every error names the variable (never, for secrets, its value).

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;

use crate::ConfigError;

/// Variables read through a lookup: the process environment, a secret
/// (see [`crate::secrets`]) or, in tests, a map.
pub(crate) struct Vars<L>(pub L);

impl<L: Fn(&str) -> Option<String>> Vars<L> {
    /// The value, if set to anything but blanks.
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|value| !value.trim().is_empty())
    }

    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    /// The value parsed by `T`'s `FromStr`, whose error becomes the reason.
    pub fn parsed<T>(&self, name: &'static str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.optional(name).map(|text| text.parse().map_err(|reason| invalid(name, reason))).transpose()
    }

    /// A boolean: unset, blank or `false` is off, `true` is on.
    pub fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self.optional(name).as_deref().map(str::trim) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(invalid(name, format!("expected `true` or `false`, got `{other}`"))),
        }
    }

    /// A whole number in `range`, `default` when unset.
    pub fn number(&self, name: &'static str, default: u64, range: RangeInclusive<u64>) -> Result<u64, ConfigError> {
        let Some(text) = self.optional(name) else { return Ok(default) };
        match text.trim().parse::<u64>() {
            Ok(value) if range.contains(&value) => Ok(value),
            Ok(_) | Err(_) => Err(invalid(
                name,
                format!("expected a whole number from {} to {}, got `{text}`", range.start(), range.end()),
            )),
        }
    }
}

pub(crate) fn invalid(name: &'static str, reason: impl Display) -> ConfigError {
    ConfigError::Invalid { name, reason: reason.to_string() }
}

/// A lookup over `pairs`, for tests.
#[cfg(test)]
pub(crate) fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: std::collections::HashMap<String, String> =
        pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect();
    move |name| map.get(name).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_is_unset_and_errors_name_the_variable() {
        let vars = Vars(lookup(&[("BLANK", "  "), ("ON", "true"), ("N", "7"), ("BAD", "maybe")]));
        assert_eq!(vars.optional("BLANK"), None);
        assert_eq!(vars.required("BLANK").expect_err("blank").to_string(), "environment variable BLANK is not set");
        assert!(vars.flag("ON").expect("flag"));
        assert!(!vars.flag("BLANK").expect("unset flag"));
        assert_eq!(
            vars.flag("BAD").expect_err("not a flag").to_string(),
            "environment variable BAD is invalid: expected `true` or `false`, got `maybe`"
        );
        assert_eq!(vars.number("N", 1, 1..=10).expect("number"), 7);
        assert_eq!(vars.number("UNSET", 3, 1..=10).expect("default"), 3);
        assert_eq!(
            vars.number("N", 1, 1..=5).expect_err("out of range").to_string(),
            "environment variable N is invalid: expected a whole number from 1 to 5, got `7`"
        );
        assert_eq!(vars.parsed::<u8>("N").expect("parsed"), Some(7));
        assert!(vars.parsed::<u8>("BAD").is_err());
    }
}
