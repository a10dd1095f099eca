//! Records of the kernel log as `/dev/kmsg` gives them, one per read:
//! `PRIORITY,SEQUENCE,MICROSECONDS,FLAGS[,...];MESSAGE`, then optional
//! continuation lines (` KEY=VALUE`), which are dropped here.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// syslog level, 0 (emerg) to 7 (debug).
    pub level: u8,
    pub facility: u32,
    pub seq: u64,
    /// Microseconds since boot.
    pub usec: u64,
    pub message: String,
}

const LEVELS: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

impl Record {
    /// `[   12.345678] kern  info: message`, like `dmesg -x`.
    pub fn line(&self) -> String {
        let facility = match self.facility {
            0 => "kern".to_string(),
            1 => "user".to_string(),
            3 => "daemon".to_string(),
            f => format!("fac{f}"),
        };
        format!(
            "[{:>5}.{:06}] {facility:<6}{:<7}: {}",
            self.usec / 1_000_000,
            self.usec % 1_000_000,
            LEVELS[usize::from(self.level & 7)],
            self.message
        )
    }
}

/// Reads one record; `None` for anything not in that shape. Message
/// escapes (`\x0a`) stay as the kernel wrote them.
pub fn parse(raw: &[u8]) -> Option<Record> {
    let text = std::str::from_utf8(raw).ok()?;
    let first = text.split('\n').next()?;
    let (head, message) = first.split_once(';')?;
    let mut f = head.split(',');
    let pri: u32 = f.next()?.parse().ok()?;
    let seq = f.next()?.parse().ok()?;
    let usec = f.next()?.parse().ok()?;
    Some(Record {
        level: (pri & 7) as u8,
        facility: pri >> 3,
        seq,
        usec,
        message: message
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_records_and_refuses_other_shapes() {
        let r = parse(b"6,339,5140900,-;NET: Registered protocol family 10\n SUBSYSTEM=net\n")
            .expect("record");
        assert_eq!((r.level, r.facility, r.seq, r.usec), (6, 0, 339, 5_140_900));
        assert_eq!(r.message, "NET: Registered protocol family 10");
        assert_eq!(
            r.line(),
            "[    5.140900] kern  info   : NET: Registered protocol family 10"
        );
        let r = parse(b"30,7,1,c;machined\x1b[0m started").expect("record");
        assert_eq!((r.facility, r.level), (3, 6));
        assert_eq!(r.message, "machined [0m started");
        for bad in [&b""[..], b"no semicolon", b"x,1,2,-;m", b"6,1;m", b"\xff;m"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
