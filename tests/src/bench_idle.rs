//! The benchmark's idle figure: each node's machined CPU over a window
//! with no probes and no faults.

use crate::cluster::Cluster;
use std::time::Duration;

/// Each node's machined CPU (percent of one core) over `window` on an idle
/// lab, with its role (holder or candidate) at the start and the end.
pub fn idle_cpu(c: &Cluster, window: Duration) -> Vec<(String, &'static str, f64)> {
    let holder = c.wait_healthy();
    let before = c.usage();
    let t = std::time::Instant::now();
    crate::wait_for("the idle window", window + Duration::from_secs(10), || {
        (t.elapsed() >= window).then_some(())
    });
    let after = c.usage();
    let secs = t.elapsed().as_secs_f64();
    let still = c.holder();
    before
        .iter()
        .enumerate()
        .filter_map(|(i, (n, _, cpu0))| {
            let (_, _, cpu1) = after.iter().find(|(m, _, _)| m == n)?;
            let role = match (i == holder, still == Some(i)) {
                (true, true) => "holder",
                (false, false) => "candidate",
                _ => "holder changed",
            };
            Some((n.clone(), role, (cpu1 - cpu0) as f64 / 10.0 / secs))
        })
        .collect()
}
