//! Log lines of machined itself and of the processes it runs (etcd), each
//! service in a ring of at most [`MAX_LINES`] lines and [`MAX_BYTES`]
//! bytes; a line is cut at [`MAX_LINE`] bytes.

use crate::events::cut;
use crate::ring::{Cost, Ring, Since};
use std::sync::OnceLock;
use std::time::SystemTime;

pub const MAX_LINES: usize = 16_384;
pub const MAX_BYTES: usize = 1 << 20;
pub const MAX_LINE: usize = 4096;

/// Services with a log here.
pub const SERVICES: [&str; 2] = ["machined", "etcd"];

#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub time: SystemTime,
    pub text: String,
}

impl Cost for Line {
    fn cost(&self) -> usize {
        self.text.len() + 32
    }
}

pub struct LogRing {
    ring: Ring<Line>,
}

impl LogRing {
    pub fn new(max_lines: usize, max_bytes: usize) -> Self {
        LogRing {
            ring: Ring::new(max_lines, max_bytes),
        }
    }

    /// Adds one line (without its newline; control characters but tab
    /// become spaces, so a line cannot forge others or drive a terminal).
    pub fn push(&self, text: &str) -> u64 {
        let clean: String = text
            .trim_end_matches(['\n', '\r'])
            .chars()
            .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
            .collect();
        self.ring.push(Line {
            time: SystemTime::now(),
            text: cut(&clean, MAX_LINE),
        })
    }

    /// Adds every line of `bytes` (UTF-8, lossy).
    pub fn push_lines(&self, bytes: &[u8]) {
        for l in String::from_utf8_lossy(bytes).lines() {
            self.push(l);
        }
    }

    pub fn tail(&self, n: Option<usize>) -> Vec<(u64, Line)> {
        self.ring.tail(n)
    }

    pub fn since(&self, seen: u64) -> Since<Line> {
        self.ring.since(seen)
    }

    /// At most `max` lines after `seen`.
    pub fn since_at_most(&self, seen: u64, max: usize) -> Since<Line> {
        self.ring.since_at_most(seen, max)
    }

    pub fn newest(&self) -> u64 {
        self.ring.newest()
    }

    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.ring.subscribe()
    }

    pub fn usage(&self) -> (usize, usize) {
        self.ring.usage()
    }
}

/// A service's log in this process (`None`: no such service).
pub fn ring(service: &str) -> Option<&'static LogRing> {
    static RINGS: OnceLock<[LogRing; 2]> = OnceLock::new();
    let rings = RINGS.get_or_init(|| [0, 1].map(|_| LogRing::new(MAX_LINES, MAX_BYTES)));
    SERVICES
        .iter()
        .position(|s| *s == service)
        .map(|i| &rings[i])
}

/// Collects what is written into whole lines of a ring (a tracing
/// subscriber makes one per event); a partial last line goes in on drop.
pub struct RingWriter {
    ring: &'static LogRing,
    buf: Vec<u8>,
}

impl RingWriter {
    pub fn new(ring: &'static LogRing) -> Self {
        RingWriter {
            ring,
            buf: Vec::new(),
        }
    }
}

impl std::io::Write for RingWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        while let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=i).collect();
            self.ring.push(&String::from_utf8_lossy(&line));
        }
        // A writer that never sees a newline still stays bounded.
        if self.buf.len() > MAX_LINE {
            let line = std::mem::take(&mut self.buf);
            self.ring.push(&String::from_utf8_lossy(&line));
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RingWriter {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            let line = std::mem::take(&mut self.buf);
            self.ring.push(&String::from_utf8_lossy(&line));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn lines_are_whole_clean_and_bounded() {
        let r: &'static LogRing = Box::leak(Box::new(LogRing::new(100, 1 << 20)));
        {
            let mut w = RingWriter::new(r);
            w.write_all(b"one\ntw").unwrap();
            w.write_all(b"o\x1b[31m\nthree").unwrap();
        }
        let got: Vec<String> = r.tail(None).into_iter().map(|(_, l)| l.text).collect();
        assert_eq!(got, ["one", "two [31m", "three"]);
        r.push(&"y".repeat(10_000));
        assert!(r.tail(Some(1))[0].1.text.len() <= MAX_LINE + 3);
        for i in 0..1000 {
            r.push(&format!("line {i}"));
        }
        assert_eq!(r.usage().0, 100);
        assert!(ring("machined").is_some() && ring("etcd").is_some() && ring("x").is_none());
    }
}
