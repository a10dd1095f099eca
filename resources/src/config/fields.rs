//! Field readers shared by the option blocks (a VIP's `machined` block,
//! its health check): durations in Go's syntax, ranges.

use super::walk::{Diag, Obj};
use yaml_serde::Value;

/// A duration in Go's syntax (`500ms`, `1.5s`, `1m30s`; see
/// [`crate::duration`]), in whole milliseconds. `0` may be a number; any
/// other bare number is refused for want of a unit.
pub(super) fn duration_ms(o: &mut Obj<'_>, key: &'static str, d: &mut Diag) -> Option<u64> {
    let path = o.path(key);
    let v = o.get(key)?;
    let parsed = match v {
        Value::Number(n) if n.as_u64() == Some(0) => Ok(std::time::Duration::ZERO),
        Value::Number(n) => crate::duration::parse(&n.to_string()),
        Value::String(s) => crate::duration::parse(s),
        _ => Err(crate::duration::DurationError::Invalid(format!("{v:?}"))),
    };
    match parsed {
        Ok(d) => Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        Err(e) => {
            d.error(path, format!("must be a duration: {e}"));
            None
        }
    }
}

pub(super) fn in_range(path: String, v: u64, lo: u64, hi: u64, unit: &str, d: &mut Diag) -> bool {
    let ok = (lo..=hi).contains(&v);
    if !ok {
        d.error(
            path,
            format!("{v}{unit} is out of range ({lo}{unit} to {hi}{unit})"),
        );
    }
    ok
}
