//! Harness for kernel and system tests: network namespaces and processes
//! that are always cleaned up (guards, also on panic), the real binaries,
//! and polling waits.

pub mod arpwatch;
pub mod bench_idle;
pub mod bench_others;
pub mod bench_report;
pub mod bins;
pub mod cluster;
pub mod election;
pub mod etcdctl;
pub mod faults;
pub mod faults_lan;
pub mod group_split;
pub mod migrate;
pub mod monitor;
pub mod netns;
pub mod node;
pub mod ns;
pub mod others;
pub mod outside;
pub mod planned;
pub mod probe;
pub mod process;
pub mod receiver;
pub mod scenario;
pub mod scrape;
pub mod service;
pub mod trial;
pub mod trial_outcome;
pub mod trial_quorum;
pub mod verdict;
pub mod vlan_port;
pub mod vm;

use std::time::{Duration, Instant};

/// True when tests may touch the kernel. Not root: skip with a message, or
/// fail when `CI=true` (CI must run them).
pub fn require_root(test: &str) -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: needs root, and CI=true forbids skipping");
    }
    eprintln!("SKIP {test}: needs root (network namespaces)");
    false
}

/// Polls `f` until it returns `Some`, or panics after `deadline` naming `what`.
pub fn wait_for<T>(what: &str, deadline: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > deadline {
            panic!("timed out after {deadline:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls `f` until it is true or `deadline` passes; whether it became true.
pub fn poll_until(deadline: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() <= deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A generous deadline for waits: these machines are shared and slow.
pub const PATIENCE: Duration = Duration::from_secs(30);
