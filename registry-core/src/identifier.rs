//! The identity of a model instance, `(model_name, host, port)`, and its validation.

use std::fmt;
use std::hash::{Hash, Hasher};

use thiserror::Error;

use crate::compact_text::{CompactText, hash_text};

/// Joins the three key parts of an identifier into its string form, as DB-GPT does.
pub const IDENTIFIER_SEPARATOR: &str = "___$$$$___";

/// The longest `model_name`, `host` or `prompt_template` the registry accepts, in characters.
///
/// It is the width of the matching `varchar(128)` columns of DB-GPT's registry table.
pub const MAX_FIELD_CHARS: usize = 128;

/// Why an instance or identifier was rejected. Every variant names the offending field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A required field is absent.
    #[error("{field} is required")]
    Missing {
        /// The field's name on the wire.
        field: &'static str,
    },
    /// A field is empty once surrounding white space is trimmed.
    #[error("{field} must not be empty")]
    Empty {
        /// The field's name on the wire.
        field: &'static str,
    },
    /// A field is longer than [`MAX_FIELD_CHARS`].
    #[error("{field} is {chars} characters long; at most {max} are allowed")]
    TooLong {
        /// The field's name on the wire.
        field: &'static str,
        /// Its length in characters.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// A field contains [`IDENTIFIER_SEPARATOR`], which would make identifiers ambiguous.
    #[error("{field} must not contain the identifier separator {IDENTIFIER_SEPARATOR}")]
    ContainsSeparator {
        /// The field's name on the wire.
        field: &'static str,
    },
    /// The port is not in `1..=65535`.
    #[error("port must be between 1 and 65535, got {value}")]
    PortOutOfRange {
        /// The rejected value.
        value: i64,
    },
    /// A text field holds a control character (U+0000 to U+001F, or U+007F) after trimming.
    /// Such a name cannot be logged or shown safely, and some databases refuse it (PostgreSQL
    /// rejects U+0000), so every backend rejects it alike.
    #[error("{field} must not contain control characters")]
    ControlCharacter {
        /// The field's name on the wire.
        field: &'static str,
    },
    /// A number is not finite or not in its allowed range.
    #[error("{field} must be a finite number, and a weight must not be negative")]
    NotFinite {
        /// The field's name on the wire.
        field: &'static str,
    },
}

impl ValidationError {
    /// The name of the field this error is about, as it is spelled on the wire.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Missing { field }
            | Self::Empty { field }
            | Self::TooLong { field, .. }
            | Self::ContainsSeparator { field }
            | Self::ControlCharacter { field }
            | Self::NotFinite { field } => field,
            Self::PortOutOfRange { .. } => "port",
        }
    }
}

/// The validated identity of a model instance.
///
/// Construct it with [`ModelInstanceIdentifier::new`], which trims `model_name` and `host`
/// and rejects anything DB-GPT's identifier would reject, and more: empty or over-long parts
/// and ports outside `1..=65535`.
///
/// ```
/// use registry_core::ModelInstanceIdentifier;
///
/// let id = ModelInstanceIdentifier::new(" glm-4@llm ", "10.0.0.1", 8001).unwrap();
/// assert_eq!(id.model_name(), "glm-4@llm");
/// assert_eq!(id.str_identifier(), "glm-4@llm___$$$$___10.0.0.1___$$$$___8001");
/// assert_eq!(ModelInstanceIdentifier::new("m", "h", 0).unwrap_err().field(), "port");
/// ```
// Field order gives the ordering: by model name, then host, then port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ModelInstanceIdentifier {
    model_name: CompactText,
    host: CompactText,
    port: u16,
}

impl ModelInstanceIdentifier {
    /// Validates and builds an identifier. `model_name` and `host` are trimmed first.
    pub fn new(model_name: &str, host: &str, port: i64) -> Result<Self, ValidationError> {
        Ok(Self {
            model_name: CompactText::new(validate_key_part("model_name", model_name)?),
            host: CompactText::new(validate_key_part("host", host)?),
            port: validate_port(port)?,
        })
    }

    /// Builds an identifier from parts already validated, as those of a normalized instance.
    pub(crate) fn from_valid_parts(model_name: &str, host: &str, port: u16) -> Self {
        Self {
            model_name: CompactText::new(model_name),
            host: CompactText::new(host),
            port,
        }
    }

    /// The key parts as bytes, for comparing with a borrowed key without decoding.
    pub(crate) fn key_bytes(&self) -> (&[u8], &[u8], u16) {
        (self.model_name.as_bytes(), self.host.as_bytes(), self.port)
    }

    /// The model's worker key, such as `glm-4-9b-chat@llm`.
    pub fn model_name(&self) -> &str {
        self.model_name.as_str()
    }

    /// The address the instance is reachable on.
    pub fn host(&self) -> &str {
        self.host.as_str()
    }

    /// The instance's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// DB-GPT's string form: the three parts joined by [`IDENTIFIER_SEPARATOR`].
    pub fn str_identifier(&self) -> String {
        self.to_string()
    }
}

/// Hashes the key parts exactly as [`InstanceKey`](crate::InstanceKey) does, so a borrowed key
/// finds a stored identifier.
impl Hash for ModelInstanceIdentifier {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_key(
            self.model_name.as_bytes(),
            self.host.as_bytes(),
            self.port,
            state,
        );
    }
}

pub(crate) fn hash_key<H: Hasher>(model_name: &[u8], host: &[u8], port: u16, state: &mut H) {
    hash_text(model_name, state);
    hash_text(host, state);
    state.write_u16(port);
}

impl fmt::Display for ModelInstanceIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{IDENTIFIER_SEPARATOR}{}{IDENTIFIER_SEPARATOR}{}",
            self.model_name, self.host, self.port
        )
    }
}

/// Trims a key part (`model_name` or `host`) and checks it; returns the trimmed text.
pub fn validate_key_part<'a>(
    field: &'static str,
    value: &'a str,
) -> Result<&'a str, ValidationError> {
    let trimmed = if is_trimmed(value) {
        value
    } else {
        value.trim()
    };
    if trimmed.is_empty() {
        return Err(ValidationError::Empty { field });
    }
    check_length(field, trimmed)?;
    // One pass over the bytes finds control characters and the `$` every separator holds; the
    // substring search runs only for texts that have a `$`.
    let mut has_dollar = false;
    for &byte in trimmed.as_bytes() {
        if is_control(byte) {
            return Err(ValidationError::ControlCharacter { field });
        }
        has_dollar |= byte == b'$';
    }
    if has_dollar && trimmed.contains(IDENTIFIER_SEPARATOR) {
        return Err(ValidationError::ContainsSeparator { field });
    }
    Ok(trimmed)
}

/// Whether a byte is a C0 control character or DEL. UTF-8 encodes these as single bytes and
/// never uses bytes below 0x80 inside a multi-byte character, so a byte scan finds exactly
/// the control characters.
fn is_control(byte: u8) -> bool {
    byte < 0x20 || byte == 0x7F
}

/// Checks that a free text field (not part of the key) holds no control character.
pub fn check_no_control(field: &'static str, value: &str) -> Result<(), ValidationError> {
    if value.bytes().any(is_control) {
        return Err(ValidationError::ControlCharacter { field });
    }
    Ok(())
}

/// Whether `text` has no white space at either end, as [`str::trim`] sees it.
///
/// An ASCII byte that is not white space settles its end without decoding a character, so
/// the usual worker key or host address is checked in two byte comparisons.
pub(crate) fn is_trimmed(text: &str) -> bool {
    let settled = |byte: &u8| byte.is_ascii() && !char::from(*byte).is_whitespace();
    let bytes = text.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) if settled(first) && settled(last) => true,
        _ => text.len() == text.trim().len(),
    }
}

/// Checks that a text field is at most [`MAX_FIELD_CHARS`] characters long.
pub fn check_length(field: &'static str, value: &str) -> Result<(), ValidationError> {
    // Byte length bounds character count from above, so most values skip the char walk.
    if value.len() > MAX_FIELD_CHARS {
        let chars = value.chars().count();
        if chars > MAX_FIELD_CHARS {
            return Err(ValidationError::TooLong {
                field,
                chars,
                max: MAX_FIELD_CHARS,
            });
        }
    }
    Ok(())
}

/// Checks that a port number is in `1..=65535`.
pub fn validate_port(value: i64) -> Result<u16, ValidationError> {
    match u16::try_from(value) {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(ValidationError::PortOutOfRange { value }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_trimmed_agrees_with_trim() {
        let texts = [
            "",
            "a",
            " a",
            "a ",
            "\ta",
            "a\n",
            "\u{0B}a",
            "a\u{0B}",
            "\u{A0}a",
            "a\u{2003}",
            "\u{85}a",
            "é",
            "éa",
            "aé",
            "10.0.0.1",
            "glm-4@llm",
            "\u{3000}",
        ];
        for text in texts {
            assert_eq!(
                is_trimmed(text),
                text.trim().len() == text.len(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_dollar_sign_alone_is_no_separator() {
        assert_eq!(validate_key_part("host", "$h$"), Ok("$h$"));
        assert_eq!(
            validate_key_part("host", "a___$$$$___b"),
            Err(ValidationError::ContainsSeparator { field: "host" })
        );
    }
}
