//! Diagnostics that name the file, line, column and key of every problem.
//! Loading collects all of them and reports them together.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// Dotted key path, e.g. `system.hostname` or `layers[2]`; empty when
    /// the problem is the file itself (bad TOML).
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "`{}`: ", self.key)?;
        }
        write!(f, "{}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n    hint: {h}")?;
        }
        Ok(())
    }
}

/// All problems found in one or more files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(f, "{n} problem{} found:", if n == 1 { "" } else { "s" })?;
        for d in &self.0 {
            writeln!(f, "  {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl Diagnostics {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0)
    }
    pub fn into_result<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

/// A TOML source file held in memory, to turn byte spans into lines.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    pub fn read(path: &Path) -> Result<Source, Diagnostics> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Source {
                path: path.to_owned(),
                text,
            }),
            Err(e) => Err(Diagnostics(vec![Diagnostic {
                file: path.to_owned(),
                line: 1,
                column: 1,
                key: String::new(),
                message: format!("cannot read this file: {e}"),
                hint: None,
            }])),
        }
    }

    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before.rfind('\n').map_or(offset, |i| offset - i - 1) + 1;
        (line, col)
    }

    pub fn diag(
        &self,
        span: Option<Range<usize>>,
        key: &str,
        message: impl Into<String>,
    ) -> Diagnostic {
        let (line, column) = span.map_or((1, 1), |s| self.line_col(s.start));
        Diagnostic {
            file: self.path.clone(),
            line,
            column,
            key: key.to_owned(),
            message: message.into(),
            hint: None,
        }
    }

    /// Parse the whole file into `T`; a syntax error or an unknown/missing key
    /// becomes a diagnostic at the place toml reports.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, Diagnostics> {
        toml::from_str::<T>(&self.text).map_err(|e| {
            let mut key = key_from_toml_message(e.message());
            if key.is_empty() {
                if let Some(span) = e.span() {
                    key = key_at(&self.text, span.start);
                }
            }
            let message = e.message().trim().to_owned();
            Diagnostics(vec![self.diag(e.span(), &key, message)])
        })
    }
}

/// toml's messages name unknown fields (``unknown field `x` ``) or missing
/// ones (``missing field `x` ``); pull the name out for the key column.
fn key_from_toml_message(msg: &str) -> String {
    for prefix in ["unknown field `", "missing field `", "duplicate key `"] {
        if let Some(rest) = msg.split(prefix).nth(1) {
            if let Some(end) = rest.find('`') {
                return rest[..end].to_owned();
            }
        }
    }
    String::new()
}

/// For what toml reports without a key (`invalid type: integer `3`,
/// expected a string`): the key of the `key = value` line at `offset`,
/// under the last `[table]` header above it; empty if that is no such line.
fn key_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("");
    let bare = |k: &str| {
        !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    };
    let Some(key) = line
        .split_once('=')
        .map(|(k, _)| k.trim())
        .filter(|k| bare(k))
    else {
        return String::new();
    };
    let table = text[..start]
        .lines()
        .rev()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim())
        .filter(|t| bare(t));
    match table {
        Some(t) => format!("{t}.{key}"),
        None => key.to_owned(),
    }
}

impl Diagnostic {
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_from_offset() {
        let s = Source {
            path: "x.toml".into(),
            text: "a = 1\nbb = 2\n".into(),
        };
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.line_col(6), (2, 1));
        assert_eq!(s.line_col(8), (2, 3));
        assert_eq!(s.line_col(999), (3, 1));
    }

    #[test]
    fn display_names_file_line_key_and_hint() {
        let d = Diagnostic {
            file: "spec.toml".into(),
            line: 3,
            column: 9,
            key: "board".into(),
            message: "unknown board `pi9`".into(),
            hint: Some("known boards: rpi3".into()),
        };
        assert_eq!(
            d.to_string(),
            "spec.toml:3:9: `board`: unknown board `pi9`\n    hint: known boards: rpi3"
        );
    }

    #[test]
    fn key_is_extracted_from_toml_messages() {
        assert_eq!(
            key_from_toml_message("unknown field `boards`, expected one of"),
            "boards"
        );
        assert_eq!(key_from_toml_message("missing field `name`"), "name");
        assert_eq!(key_from_toml_message("invalid type"), "");
    }

    #[test]
    fn key_of_a_value_toml_reports_without_one() {
        let text = "name = 3\n[settings.kiwix] # x\nthreads = \"2\"\n[[items]]\nsize = \"big\"\n";
        assert_eq!(key_at(text, 7), "name");
        assert_eq!(
            key_at(text, text.find("\"2").unwrap()),
            "settings.kiwix.threads"
        );
        assert_eq!(key_at(text, text.find("\"big").unwrap()), "items.size");
        assert_eq!(key_at(text, text.find("[settings").unwrap()), "");
        assert_eq!(key_at("a = 1\n", 999), "");
    }
}
