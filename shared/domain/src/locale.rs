//! The payer's UI language, as the followed API's clients send it with a
//! payment method (`"en"`, `"es"`, `"zh-Hant-TW"`). Ferry has nothing to
//! translate yet, so it only makes sure the value is a plausible language
//! tag before accepting the request.

use std::fmt;

/// A language tag in the shape of BCP 47: a 2–8 letter language, then
/// subtags of 1–8 letters or digits, separated by `-` (or `_`, which some
/// platforms use), at most [`Locale::MAX_CHARS`] characters in all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Locale(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocaleError {
    #[error("must be a language tag such as `en` or `es-ES`, not empty")]
    Empty,
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error(
        "must be a language tag such as `en` or `es-ES`: a 2 to 8 letter language, then subtags of 1 to 8 \
         letters or digits separated by `-`"
    )]
    Malformed,
}

impl Locale {
    /// BCP 47's recommended minimum buffer for a tag (RFC 5646, 4.4.1).
    pub const MAX_CHARS: usize = 35;

    pub fn parse(text: &str) -> Result<Self, LocaleError> {
        if text.is_empty() {
            return Err(LocaleError::Empty);
        }
        if text.chars().count() > Self::MAX_CHARS {
            return Err(LocaleError::TooLong { max: Self::MAX_CHARS });
        }
        let mut subtags = text.split(['-', '_']);
        let language = subtags.next().unwrap_or_default();
        let language_ok = (2..=8).contains(&language.len()) && language.bytes().all(|b| b.is_ascii_alphabetic());
        let rest_ok = subtags.all(|tag| (1..=8).contains(&tag.len()) && tag.bytes().all(|b| b.is_ascii_alphanumeric()));
        if language_ok && rest_ok { Ok(Self(text.to_string())) } else { Err(LocaleError::Malformed) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tags_clients_send_are_accepted() {
        for tag in ["en", "es", "zh", "es-ES", "pt_BR", "zh-Hant-TW", "en-US-x-twain", "sgn-BE-FR"] {
            assert_eq!(Locale::parse(tag).map(|l| l.to_string()), Ok(tag.to_string()), "{tag}");
        }
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        assert_eq!(Locale::parse(""), Err(LocaleError::Empty));
        assert_eq!(Locale::parse(&"a".repeat(36)), Err(LocaleError::TooLong { max: 35 }));
        for bad in ["e", "en-", "-en", "en--US", "1en", "en US", "en-US!", "fr-toolongsubtag", "日本語", "en/US"] {
            assert_eq!(Locale::parse(bad), Err(LocaleError::Malformed), "{bad}");
        }
    }
}
