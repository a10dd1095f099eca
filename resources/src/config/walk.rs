//! Walks a YAML tree, recording every error with its field path. A key
//! nobody asked for is a Talos field machined does not act on (counted for
//! one summary line) or a typo (an error with a did-you-mean); in machined's
//! own blocks every unknown key is an error.

use std::fmt;
use yaml_serde::{Mapping, Value};

/// One validation error: the field path and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub reason: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

#[derive(Debug, Default)]
pub struct Diag {
    pub errors: Vec<FieldError>,
    pub warnings: Vec<String>,
    /// Talos fields and documents machined does not act on, by path.
    pub ignored: Vec<String>,
}

impl Diag {
    pub fn error(&mut self, path: impl AsRef<str>, reason: impl Into<String>) {
        self.errors.push(FieldError {
            path: path.as_ref().to_string(),
            reason: reason.into(),
        });
    }

    pub fn warn(&mut self, path: &str, reason: &str) {
        self.warnings.push(format!("{path}: {reason}"));
    }

    /// The one line that names every ignored Talos setting, if any.
    pub fn summarize_ignored(&mut self) {
        if self.ignored.is_empty() {
            return;
        }
        let (docs, fields): (Vec<&String>, Vec<&String>) =
            self.ignored.iter().partition(|x| x.ends_with(" document"));
        let mut parts = Vec::new();
        if !fields.is_empty() {
            let f: Vec<&str> = fields.iter().map(|x| x.as_str()).collect();
            parts.push(f.join(", "));
        }
        if !docs.is_empty() {
            let mut k: Vec<&str> = Vec::new();
            for x in docs.iter().map(|x| x.trim_end_matches(" document")) {
                if !k.contains(&x) {
                    k.push(x);
                }
            }
            parts.push(format!("documents {}", k.join(", ")));
        }
        self.warnings.push(format!(
            "{} Talos setting(s) machined does not act on, ignored: {}",
            self.ignored.len(),
            parts.join("; ")
        ));
    }
}

/// Why `name` is refused where `known` are the names understood: an
/// unknown field, with the closest known name when one is close.
pub fn unknown(name: &str, known: &[&str]) -> String {
    match did_you_mean(name, known) {
        Some(k) => format!("unknown field; did you mean {k}?"),
        None if known.is_empty() => "unknown field".to_string(),
        None => {
            let mut k = known.to_vec();
            k.sort_unstable();
            k.dedup();
            format!("unknown field (known here: {})", k.join(", "))
        }
    }
}

/// The known name closest to `name`, if close enough to be a typo of it.
pub fn did_you_mean<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    let lower = name.to_ascii_lowercase();
    known
        .iter()
        .map(|k| {
            let score = if k.eq_ignore_ascii_case(name) {
                1.0
            } else {
                strsim::normalized_damerau_levenshtein(&lower, &k.to_ascii_lowercase())
            };
            (score, *k)
        })
        .filter(|(score, _)| *score >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// What a YAML value is, for messages (`a mapping`, `a list`, ...).
pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// A mapping being read. Keys taken with the accessors count as known;
/// `finish` warns about the rest.
pub struct Obj<'a> {
    pub path: String,
    map: Option<&'a Mapping>,
    raw: Option<&'a Value>,
    used: Vec<&'static str>,
    all: bool,
    /// machined's own schema: every unknown key is an error.
    own: bool,
}

impl<'a> Obj<'a> {
    pub fn new(v: Option<&'a Value>, path: &str, d: &mut Diag) -> Self {
        let map = match v {
            None | Some(Value::Null) => None,
            Some(Value::Mapping(m)) => Some(m),
            Some(other) => {
                d.error(path, format!("must be a mapping, not {}", kind(other)));
                None
            }
        };
        Obj {
            path: path.to_string(),
            map,
            raw: v.filter(|v| v.is_mapping()),
            used: Vec::new(),
            all: false,
            own: false,
        }
    }

    /// A mapping of machined's own (not Talos's): unknown keys are errors.
    pub fn own(mut self) -> Self {
        self.own = true;
        self
    }

    pub fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The value under `key` (null counts as absent).
    pub fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.used.push(key);
        match self.map?.get(key)? {
            Value::Null => None,
            v => Some(v),
        }
    }

    /// The key holds an empty string (and counts as read).
    pub fn get_str_is_empty(&mut self, key: &'static str) -> bool {
        self.used.push(key);
        self.map
            .and_then(|m| m.get(key))
            .is_some_and(|v| v.as_str() == Some(""))
    }

    pub fn has(&self, key: &str) -> bool {
        self.map
            .and_then(|m| m.get(key))
            .is_some_and(|v| !v.is_null())
    }

    pub fn child(&mut self, key: &'static str, d: &mut Diag) -> Obj<'a> {
        let v = self.get(key);
        Obj::new(v, &self.path(key), d)
    }

    pub fn string(&mut self, key: &'static str, d: &mut Diag) -> Option<String> {
        let path = self.path(key);
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            // YAML reads `name: 1.2` as a number; take its text.
            Value::Number(n) => Some(n.to_string()),
            other => {
                d.error(path, format!("must be a string, not {}", kind(other)));
                None
            }
        }
    }

    pub fn bool(&mut self, key: &'static str, d: &mut Diag) -> Option<bool> {
        let path = self.path(key);
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            other => {
                d.error(path, format!("must be true or false, not {}", kind(other)));
                None
            }
        }
    }

    pub fn uint(&mut self, key: &'static str, max: u64, d: &mut Diag) -> Option<u64> {
        let path = self.path(key);
        let v = self.get(key)?;
        match v.as_u64() {
            Some(n) if n <= max => Some(n),
            Some(n) => {
                d.error(path, format!("{n} is out of range (at most {max})"));
                None
            }
            None => {
                d.error(path, format!("must be a whole number, not {}", kind(v)));
                None
            }
        }
    }

    /// The items of a list under `key`, each with its path (`key[i]`).
    pub fn list(&mut self, key: &'static str, d: &mut Diag) -> Vec<(String, &'a Value)> {
        let path = self.path(key);
        match self.get(key) {
            None => Vec::new(),
            Some(Value::Sequence(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("{path}[{i}]"), v))
                .collect(),
            Some(other) => {
                d.error(path, format!("must be a list, not {}", kind(other)));
                Vec::new()
            }
        }
    }

    /// A list of strings under `key`.
    pub fn strings(&mut self, key: &'static str, d: &mut Diag) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (path, v) in self.list(key, d) {
            match v {
                Value::String(s) => out.push((path, s.clone())),
                other => d.error(path, format!("must be a string, not {}", kind(other))),
            }
        }
        out
    }

    /// The whole mapping, for free-form maps (e.g. extra args).
    pub fn raw(&self) -> Option<&'a Value> {
        self.raw
    }

    /// Marks every key as read.
    pub fn accept_all(&mut self) {
        self.all = true;
    }

    /// Marks keys as accepted without effect and without a warning.
    pub fn accept(&mut self, keys: &[&'static str]) {
        self.used.extend_from_slice(keys);
    }

    /// Judges every key that was not read: a Talos field machined does not
    /// act on is noted as ignored; anything else (and, in machined's own
    /// blocks, everything) is an error naming the closest known field.
    pub fn finish(self, d: &mut Diag) {
        let Some(map) = self.map.filter(|_| !self.all) else {
            return;
        };
        for k in map.keys() {
            let name = match k {
                Value::String(s) => s.clone(),
                other => format!("{other:?}"),
            };
            if self.used.contains(&name.as_str()) {
                continue;
            }
            let path = join(&self.path, &name);
            if !self.own && super::talos_names::is_field(&name) {
                d.ignored.push(path);
            } else {
                d.error(path, unknown(&name, &self.used));
            }
        }
    }
}
