//! What a config may cost before it is parsed, and what it must hold for the
//! node to stay reachable once applied.
//!
//! The YAML parser's cost grows with the square of flow nesting
//! (`[[[[...]]]]`), so size and nesting are checked first, by a single
//! linear scan. Real configs are tens of kilobytes, nest a few levels deep
//! and indent a few dozen columns.

use super::walk::FieldError;
use super::MachineConfig;

/// Largest config accepted, bytes.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;
/// Deepest nesting of flow collections (`[`, `{`) accepted.
pub const MAX_FLOW_DEPTH: usize = 32;
/// Widest indentation accepted, columns (block nesting needs a column per level).
pub const MAX_INDENT: usize = 256;

fn err(path: &str, reason: String) -> FieldError {
    FieldError {
        path: path.into(),
        reason,
    }
}

/// Size and nesting, in one pass over the text (quoted scalars and comments
/// skipped, so brackets inside them do not count).
pub fn precheck(text: &str) -> Result<(), FieldError> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(err(
            "config",
            format!(
                "is {} bytes; at most {MAX_CONFIG_BYTES} are accepted",
                text.len()
            ),
        ));
    }
    let mut depth = 0usize;
    for (n, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        if indent > MAX_INDENT {
            return Err(err(
                &format!("line {}", n + 1),
                format!("is indented {indent} columns; at most {MAX_INDENT} are accepted"),
            ));
        }
        let mut quote: Option<char> = None;
        let mut escaped = false;
        for c in line.chars() {
            match quote {
                Some('"') if escaped => escaped = false,
                Some('"') if c == '\\' => escaped = true,
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    '"' | '\'' => quote = Some(c),
                    '#' => break,
                    '[' | '{' => {
                        depth += 1;
                        if depth > MAX_FLOW_DEPTH {
                            return Err(err(
                                &format!("line {}", n + 1),
                                format!("nests brackets deeper than {MAX_FLOW_DEPTH} levels"),
                            ));
                        }
                    }
                    ']' | '}' => depth = depth.saturating_sub(1),
                    _ => {}
                },
            }
        }
    }
    Ok(())
}

/// What would lock the admin out if this config were applied: the node
/// leaves maintenance mode and from then on accepts only clients with a
/// certificate from `machine.ca`, which it can serve only if it can issue
/// its own certificate from that CA. (The pair's loading and matching are
/// checked when it is parsed.)
pub fn lockout(c: &MachineConfig) -> Vec<FieldError> {
    match &c.machine_ca {
        None => vec![err(
            "machine.ca",
            "is missing: applied, this config would leave the node unable to secure its API, and every client would be refused (mctl gen config writes one)".into(),
        )],
        Some(ca) if ca.key.is_empty() => vec![err(
            "machine.ca.key",
            "is empty: the node could not issue its API certificate, and every client would be refused (Talos workers get theirs from trustd, which machined does not have; give the node the CA key)".into(),
        )],
        Some(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_and_nesting_are_refused_before_parsing() {
        let ok = "version: v1alpha1\nmachine: {type: controlplane, certSANs: [a, b]}\n";
        assert!(precheck(ok).is_ok());
        let deep = format!("machine: {}{}\n", "[".repeat(200_000), "]".repeat(200_000));
        let e = precheck(&deep).unwrap_err();
        assert_eq!(e.path, "line 1");
        assert!(e.reason.contains("deeper than 32"), "{e}");
        let big = "a".repeat(MAX_CONFIG_BYTES + 1);
        assert!(precheck(&big).unwrap_err().reason.contains("at most"));
        let wide = format!("a:\n{}b: 1\n", " ".repeat(300));
        assert_eq!(precheck(&wide).unwrap_err().path, "line 2");
        // Brackets inside quotes and comments do not count.
        let quoted = format!(
            "a: \"{}\" # {}\nb: '{}'\n",
            "[".repeat(100),
            "{".repeat(100),
            "[".repeat(100)
        );
        assert!(precheck(&quoted).is_ok());
    }

    #[test]
    fn a_config_that_locks_the_admin_out_is_named() {
        let mut c = super::super::parse("version: v1alpha1\nmachine:\n  type: worker\n")
            .unwrap()
            .config;
        assert_eq!(lockout(&c)[0].path, "machine.ca");
        c.machine_ca = Some(super::super::CaPem {
            crt: "x".into(),
            key: String::new(),
        });
        assert_eq!(lockout(&c)[0].path, "machine.ca.key");
        c.machine_ca = Some(super::super::CaPem {
            crt: "x".into(),
            key: "y".into(),
        });
        assert!(lockout(&c).is_empty());
    }
}
