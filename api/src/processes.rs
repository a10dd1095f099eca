//! The node's processes from /proc, as `talosctl processes` shows them:
//! pid, parent, state, threads, CPU time, memory, command. Bounded: at
//! most [`MAX`] processes and [`MAX_ARGS`] bytes of command line each.

use machined_proto as pb;
use std::path::Path;

pub const MAX: usize = 8192;
const MAX_ARGS: usize = 512;

/// One `/proc/PID/stat` line read: (ppid, state, threads, user+system
/// ticks, virtual bytes, resident pages, comm).
pub fn parse_stat(stat: &str) -> Option<(i32, String, i32, u64, u64, u64, String)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let f: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    Some((
        f.get(1)?.parse().ok()?,
        f.first()?.to_string(),
        num(17)? as i32,
        num(11)? + num(12)?,
        num(20)?,
        num(21)?,
        comm,
    ))
}

fn args_of(dir: &Path) -> String {
    let raw = std::fs::read(dir.join("cmdline")).unwrap_or_default();
    let raw = &raw[..raw.len().min(MAX_ARGS)];
    String::from_utf8_lossy(raw)
        .split('\0')
        .filter(|a| !a.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every process under `proc` (normally `/proc`), by pid, and how many
/// were left out.
pub fn list(proc: &Path) -> (Vec<pb::ProcessInfo>, u32) {
    // SAFETY: sysconf(3) has no preconditions.
    let (tick, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK).max(1) as f64,
            libc::sysconf(libc::_SC_PAGESIZE).max(1) as u64,
        )
    };
    let mut pids: Vec<i32> = std::fs::read_dir(proc)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    let omitted = pids.len().saturating_sub(MAX) as u32;
    let out = pids
        .into_iter()
        .take(MAX)
        .filter_map(|pid| {
            let dir = proc.join(pid.to_string());
            // A process may end while we read: skip it.
            let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
            let (ppid, state, threads, ticks, vsize, rss, comm) = parse_stat(&stat)?;
            Some(pb::ProcessInfo {
                pid,
                ppid,
                state,
                threads,
                cpu_seconds: ticks as f64 / tick,
                virtual_memory: vsize,
                resident_memory: rss * page,
                command: comm,
                args: args_of(&dir),
            })
        })
        .collect();
    (out, omitted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_with_a_tricky_name_parses() {
        let line = "42 (ma chi) ned)) S 1 42 42 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 7 0 12 123456789 3000 18446744073709551615";
        let (ppid, state, threads, ticks, vsize, rss, comm) = parse_stat(line).unwrap();
        assert_eq!((ppid, state.as_str(), threads), (1, "S", 7));
        assert_eq!((ticks, vsize, rss), (200, 123_456_789, 3000));
        assert_eq!(comm, "ma chi) ned)");
        assert!(parse_stat("42 (x) S 1").is_none(), "a short line");
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn this_process_is_listed() {
        let (ps, omitted) = list(Path::new("/proc"));
        assert_eq!(omitted, 0);
        let me = ps
            .iter()
            .find(|p| p.pid == std::process::id() as i32)
            .expect("this test's process");
        assert!(me.resident_memory > 0 && me.threads >= 1, "{me:?}");
        assert!(!me.args.is_empty());
    }
}
