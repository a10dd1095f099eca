//! Printing an error with its causes, once each. Our error types never put
//! their `source()` in their own message (the chain is printed here), and a
//! cause whose text is already in what was printed (some libraries repeat
//! theirs) is left out.

use std::error::Error;
use std::fmt;

/// Displays an error and its sources, joined by `: `.
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

/// `error = %chain(&e)` in a log line, or `chain(&e).to_string()`.
pub fn chain<'a>(e: &'a (dyn Error + 'static)) -> Chain<'a> {
    Chain(e)
}

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut printed = self.0.to_string();
        let mut cur = self.0.source();
        // Bounded: a cyclic or absurdly deep chain stops here.
        for _ in 0..16 {
            let Some(e) = cur else { break };
            let text = e.to_string();
            if !text.is_empty() && !printed.contains(&text) {
                printed.push_str(": ");
                printed.push_str(&text);
            }
            cur = e.source();
        }
        f.write_str(&printed)
    }
}

#[cfg(test)]
mod tests {
    use super::chain;

    #[derive(Debug, thiserror::Error)]
    #[error("reading the lease")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("transport error: {0}")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let e = Outer(Middle(io));
        // The middle one repeats its source, as some libraries do; the
        // chain still says it once.
        assert_eq!(
            chain(&e).to_string(),
            "reading the lease: transport error: Connection refused"
        );
    }
}
