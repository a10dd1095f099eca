//! One duration syntax for the config and the command line: Go's, as Talos
//! writes durations. A sequence of decimal numbers, each with an optional
//! fraction and a unit: `500ms`, `1.5s`, `1m30s`, `2h`; units `ns`, `us`
//! (or `µs`), `ms`, `s`, `m`, `h`. `0` needs no unit; any other bare number
//! is refused, with a hint, instead of being guessed as seconds here and
//! milliseconds there.

use std::time::Duration;

/// Longest text read (a duration is a few characters).
const MAX_LEN: usize = 64;
/// Longest duration taken: ten years.
const MAX: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty: write a duration such as 500ms, 1.5s or 1m30s")]
    Empty,
    #[error("{0:?} has no unit: write {0}ms, {0}s or {0}m (units: ns, us, ms, s, m, h)")]
    Bare(String),
    #[error("{0:?} is not a duration: write it as 500ms, 1.5s, 1m30s or 2h")]
    Invalid(String),
    #[error("{0:?}: a duration cannot be negative")]
    Negative(String),
    #[error("{0:?} is longer than ten years")]
    TooLarge(String),
}

fn unit(s: &str) -> Option<(u128, usize)> {
    // Longest first: "ms" before "m" and "s".
    const UNITS: [(&str, u128); 7] = [
        ("ns", 1),
        ("us", 1_000),
        ("µs", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ];
    UNITS
        .iter()
        .find(|(u, _)| s.starts_with(u))
        .map(|(u, n)| (*n, u.len()))
}

/// Parses a duration in Go's syntax.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    let invalid = || DurationError::Invalid(s.chars().take(MAX_LEN).collect());
    if s.len() > MAX_LEN {
        return Err(invalid());
    }
    if s.starts_with('-') {
        return Err(DurationError::Negative(s.to_string()));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(DurationError::Bare(s.to_string()));
    }
    let mut rest = s;
    let mut nanos: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (int, after) = rest.split_at(int_len);
        let (frac, after) = match after.strip_prefix('.') {
            Some(a) => {
                let n = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
                a.split_at(n)
            }
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(invalid());
        }
        let (per, used) = unit(after).ok_or_else(invalid)?;
        let whole: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| invalid())?
        };
        // At most 18 fraction digits matter; the rest are below a nanosecond.
        let digits = &frac[..frac.len().min(18)];
        let part: u128 = if digits.is_empty() {
            0
        } else {
            digits.parse::<u128>().map_err(|_| invalid())? * per / 10u128.pow(digits.len() as u32)
        };
        nanos = whole
            .checked_mul(per)
            .and_then(|n| n.checked_add(part))
            .and_then(|n| nanos.checked_add(n))
            .ok_or_else(|| DurationError::TooLarge(s.to_string()))?;
        rest = &after[used..];
    }
    if nanos > MAX.as_nanos() {
        return Err(DurationError::TooLarge(s.to_string()));
    }
    Ok(Duration::from_nanos(nanos as u64))
}

/// `d` as Go writes it: `1m30s`, `500ms`, `0s`.
pub fn format(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    if d < Duration::from_secs(1) {
        let ns = d.as_nanos();
        return match ns {
            n if n % 1_000_000 == 0 => format!("{}ms", n / 1_000_000),
            n if n % 1_000 == 0 => format!("{}us", n / 1_000),
            n => format!("{n}ns"),
        };
    }
    let total = d.as_secs();
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    let frac = d.subsec_millis();
    let secs = if frac == 0 {
        format!("{s}s")
    } else {
        format!("{s}.{}s", format!("{frac:03}").trim_end_matches('0'))
    };
    match (h, m) {
        (0, 0) => secs,
        (0, m) => format!("{m}m{secs}"),
        (h, m) => format!("{h}h{m}m{secs}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn go_durations_parse() {
        let ok: &[(&str, Duration)] = &[
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("500ms", MS(500)),
            ("1.5s", MS(1500)),
            ("1m30s", Duration::from_secs(90)),
            ("2h", Duration::from_secs(7200)),
            ("1h2m3s4ms", MS(3_723_004)),
            ("100us", Duration::from_micros(100)),
            ("100µs", Duration::from_micros(100)),
            ("7ns", Duration::from_nanos(7)),
            (".5s", MS(500)),
            ("2.s", Duration::from_secs(2)),
            (" 30s ", Duration::from_secs(30)),
            ("+5m", Duration::from_secs(300)),
            (
                "1.123456789123456789123s",
                Duration::from_nanos(1_123_456_789),
            ),
        ];
        for (s, want) in ok {
            assert_eq!(parse(s), Ok(*want), "{s}");
        }
    }

    #[test]
    fn everything_else_is_refused_with_the_reason() {
        let bad: &[(&str, &str)] = &[
            ("", "empty"),
            ("100", "has no unit: write 100ms, 100s or 100m"),
            ("1.5", "has no unit"),
            ("-1s", "cannot be negative"),
            ("1x", "not a duration"),
            ("s", "not a duration"),
            ("1m30", "not a duration"),
            ("..5s", "not a duration"),
            ("1e3s", "not a duration"),
            ("99999999999h", "longer than ten years"),
            ("999999999999999999999999999999999999999h", "not a duration"),
        ];
        for (s, want) in bad {
            let e = parse(s).unwrap_err().to_string();
            assert!(e.contains(want), "{s:?}: {e}");
        }
        assert!(parse(&"1".repeat(100)).is_err(), "bounded");
    }

    #[test]
    fn formatting_reads_back() {
        for d in [
            Duration::ZERO,
            MS(500),
            MS(1500),
            Duration::from_secs(90),
            Duration::from_secs(7200),
            Duration::from_secs(3723),
            Duration::from_micros(250),
        ] {
            assert_eq!(parse(&format(d)), Ok(d), "{}", format(d));
        }
        assert_eq!(format(Duration::from_secs(90)), "1m30s");
        assert_eq!(format(MS(500)), "500ms");
        assert_eq!(format(MS(1500)), "1.5s");
    }
}
