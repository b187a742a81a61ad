//! What the checkout shows the payer, checked once when the merchant sets it.

use serde::{Deserialize, Serialize};

/// What the checkout shows the payer. Built only by [`DisplayInfo::parse`]
/// (or read back from a store), so its limits always hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayInfo {
    title: String,
    verb: String,
    theme_css_url: Option<String>,
    payment_options: Option<Vec<String>>,
    /// Light, dark or the payer's system setting; `None` when the merchant
    /// did not say (clients then follow the system). Sessions stored before
    /// the field existed read as `None`.
    #[serde(default)]
    theme_mode: Option<ThemeMode>,
}

/// The checkout's colour scheme, as the merchant chose it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeMode {
    /// Follow the payer's system setting.
    System,
    Light,
    Dark,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisplayError {
    #[error("must not be empty")]
    Empty { field: DisplayField },
    #[error("must be at most {max} characters")]
    TooLong { field: DisplayField, max: usize },
    #[error("must be an https:// URL")]
    NotHttpsUrl,
    #[error("may list at most {max} options")]
    TooManyOptions { max: usize },
    #[error("must be 1 to {max} characters")]
    BadOption { index: usize, max: usize },
}

/// Which display field an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisplayField {
    Title,
    Verb,
    ThemeCssUrl,
}

impl DisplayError {
    /// The field's path inside `display`, e.g. `title` or `paymentOptions[2]`.
    pub fn field_path(&self) -> String {
        match self {
            Self::Empty { field } | Self::TooLong { field, .. } => match field {
                DisplayField::Title => "title".into(),
                DisplayField::Verb => "verb".into(),
                DisplayField::ThemeCssUrl => "themeCssUrl".into(),
            },
            Self::NotHttpsUrl => "themeCssUrl".into(),
            Self::TooManyOptions { .. } => "paymentOptions".into(),
            Self::BadOption { index, .. } => format!("paymentOptions[{index}]"),
        }
    }
}

impl DisplayInfo {
    pub const MAX_TITLE_CHARS: usize = 200;
    pub const MAX_VERB_CHARS: usize = 50;
    pub const MAX_URL_CHARS: usize = 2048;
    pub const MAX_OPTIONS: usize = 20;
    pub const MAX_OPTION_CHARS: usize = 64;

    pub fn parse(
        title: String,
        verb: String,
        theme_css_url: Option<String>,
        payment_options: Option<Vec<String>>,
    ) -> Result<Self, DisplayError> {
        let text = |value: String, field: DisplayField, max: usize| {
            if value.trim().is_empty() {
                Err(DisplayError::Empty { field })
            } else if value.chars().count() > max {
                Err(DisplayError::TooLong { field, max })
            } else {
                Ok(value)
            }
        };
        let title = text(title, DisplayField::Title, Self::MAX_TITLE_CHARS)?;
        let verb = text(verb, DisplayField::Verb, Self::MAX_VERB_CHARS)?;
        let theme_css_url = theme_css_url
            .map(|url| {
                let url = text(url, DisplayField::ThemeCssUrl, Self::MAX_URL_CHARS)?;
                let host = url.strip_prefix("https://").unwrap_or_default();
                if host.is_empty() || url.chars().any(char::is_whitespace) {
                    return Err(DisplayError::NotHttpsUrl);
                }
                Ok(url)
            })
            .transpose()?;
        if let Some(options) = &payment_options {
            if options.len() > Self::MAX_OPTIONS {
                return Err(DisplayError::TooManyOptions { max: Self::MAX_OPTIONS });
            }
            for (index, option) in options.iter().enumerate() {
                let chars = option.chars().count();
                if option.trim().is_empty() || chars > Self::MAX_OPTION_CHARS {
                    return Err(DisplayError::BadOption { index, max: Self::MAX_OPTION_CHARS });
                }
            }
        }
        Ok(Self { title, verb, theme_css_url, payment_options, theme_mode: None })
    }

    /// The same display with the merchant's theme mode.
    pub fn with_theme_mode(self, theme_mode: Option<ThemeMode>) -> Self {
        Self { theme_mode, ..self }
    }

    pub fn title(&self) -> &str {
        &self.title
    }

    pub fn verb(&self) -> &str {
        &self.verb
    }

    pub fn theme_css_url(&self) -> Option<&str> {
        self.theme_css_url.as_deref()
    }

    pub fn payment_options(&self) -> Option<&[String]> {
        self.payment_options.as_deref()
    }

    pub fn theme_mode(&self) -> Option<ThemeMode> {
        self.theme_mode
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_fields_are_checked_and_named() {
        let parse =
            |title: &str, url: Option<&str>| DisplayInfo::parse(title.into(), "Pay".into(), url.map(Into::into), None);
        assert!(parse("Order #1", Some("https://shop.example/theme.css")).is_ok());
        assert_eq!(parse("  ", None).map_err(|e| e.field_path()), Err("title".to_string()));
        assert_eq!(parse("x", Some("http://shop.example/a.css")), Err(DisplayError::NotHttpsUrl));
        assert_eq!(parse("x", Some("https://")), Err(DisplayError::NotHttpsUrl));
        let options = Some(vec!["evm".to_string(), String::new()]);
        let error = DisplayInfo::parse("x".into(), "Pay".into(), None, options).expect_err("empty option");
        assert_eq!(error.field_path(), "paymentOptions[1]");
    }

    #[test]
    fn sessions_stored_before_theme_modes_existed_read_without_one() {
        let display = DisplayInfo::parse("Order #1".into(), "Pay".into(), None, None).expect("display");
        let mut stored = serde_json::to_value(&display).expect("json");
        stored.as_object_mut().expect("object").remove("theme_mode");
        let read: DisplayInfo = serde_json::from_value(stored).expect("old display");
        assert_eq!(read.theme_mode, None);
        let dark = display.with_theme_mode(Some(ThemeMode::Dark));
        let round_trip: DisplayInfo = serde_json::from_value(serde_json::to_value(&dark).expect("json")).expect("read");
        assert_eq!(round_trip.theme_mode, Some(ThemeMode::Dark));
    }
}
