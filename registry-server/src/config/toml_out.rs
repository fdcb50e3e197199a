//! Writing settings as TOML lines for `check-config`.

/// A setting's value as TOML; the setting's type picks the variant (see [`super::kind::Kind`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TomlValue {
    /// A TOML integer.
    Integer(i64),
    /// A TOML boolean.
    Boolean(bool),
    /// A TOML basic string.
    String(String),
    /// A TOML array of strings.
    Strings(Vec<String>),
    /// No value: the line is written as a comment, so reading it back leaves the default.
    Unset,
}

impl TomlValue {
    /// The line `key = value`.
    pub(crate) fn line(&self, key: &str) -> String {
        match self {
            Self::Integer(number) => format!("{key} = {number}\n"),
            Self::Boolean(on) => format!("{key} = {on}\n"),
            Self::String(text) => format!("{key} = {}\n", quote(text)),
            Self::Strings(items) => {
                let items: Vec<String> = items.iter().map(|item| quote(item)).collect();
                format!("{key} = [{}]\n", items.join(", "))
            }
            Self::Unset => format!("# {key} = (none)\n"),
        }
    }
}

/// A TOML basic string: backslash, quote and control characters escaped.
fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_variant_is_written_in_its_toml_form() {
        assert_eq!(TomlValue::Integer(-5).line("n"), "n = -5\n");
        assert_eq!(TomlValue::Boolean(true).line("b"), "b = true\n");
        assert_eq!(
            TomlValue::String("2024".to_owned()).line("s"),
            "s = \"2024\"\n"
        );
        assert_eq!(
            TomlValue::String("a\"b\\c\td\u{7f}é".to_owned()).line("s"),
            "s = \"a\\\"b\\\\c\\u0009d\\u007Fé\"\n"
        );
        assert_eq!(
            TomlValue::Strings(vec!["a".to_owned(), "b#".to_owned()]).line("l"),
            "l = [\"a\", \"b#\"]\n"
        );
        assert_eq!(TomlValue::Strings(Vec::new()).line("l"), "l = []\n");
        assert_eq!(TomlValue::Unset.line("token"), "# token = (none)\n");
    }
}
