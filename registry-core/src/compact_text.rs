//! Short text kept inline, so that comparing identifiers in a hash table reads no second
//! cache line: worker keys and host addresses almost always fit.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// Texts up to this many bytes are stored inline (the enum is then 24 bytes).
const INLINE_BYTES: usize = 22;

#[derive(Clone)]
pub(crate) enum CompactText {
    Inline { len: u8, bytes: [u8; INLINE_BYTES] },
    Heap(Box<str>),
}

impl CompactText {
    pub(crate) fn new(text: &str) -> Self {
        match u8::try_from(text.len()) {
            Ok(len) if text.len() <= INLINE_BYTES => {
                let mut bytes = [0; INLINE_BYTES];
                bytes[..text.len()].copy_from_slice(text.as_bytes());
                Self::Inline { len, bytes }
            }
            _ => Self::Heap(text.into()),
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Self::Heap(text) => text.as_bytes(),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Inline bytes are always a whole `&str` copied in `new`, so this never fails.
            Self::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            Self::Heap(text) => text,
        }
    }
}

/// Hashes text the same way for stored identifiers and borrowed lookup keys.
pub(crate) fn hash_text<H: Hasher>(bytes: &[u8], state: &mut H) {
    state.write(bytes);
    state.write_u8(0xff);
}

impl PartialEq for CompactText {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for CompactText {}

impl PartialOrd for CompactText {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CompactText {
    // UTF-8 byte order is code point order, the same order as `str`'s.
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for CompactText {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_text(self.as_bytes(), state);
    }
}

impl fmt::Debug for CompactText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for CompactText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_short_and_long_text() {
        for text in [
            "",
            "a",
            "10.0.0.1",
            &"é".repeat(15),
            &"x".repeat(31),
            &"模型".repeat(40),
        ] {
            let compact = CompactText::new(text);
            assert_eq!(compact.as_str(), text);
            assert_eq!(compact.as_bytes(), text.as_bytes());
        }
        assert!(matches!(
            CompactText::new(&"x".repeat(INLINE_BYTES)),
            CompactText::Inline { .. }
        ));
        assert!(matches!(
            CompactText::new(&"x".repeat(INLINE_BYTES + 1)),
            CompactText::Heap(_)
        ));
    }

    #[test]
    fn orders_like_str() {
        let mut texts = ["b", "a", "ab", &"z".repeat(40), "é", ""];
        let mut compact: Vec<CompactText> = texts.iter().map(|t| CompactText::new(t)).collect();
        texts.sort_unstable();
        compact.sort();
        let sorted: Vec<&str> = compact.iter().map(CompactText::as_str).collect();
        assert_eq!(sorted, texts);
    }
}
