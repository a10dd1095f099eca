//! The failover benchmark's figures over every VIP of a lab with several
//! (`--vips K`): per trial the VIPs the faulted node held (the first VIP
//! among them), the worst and the median of their gaps, when the last was
//! answered again, the worst gap of the VIPs it did not hold, and requests
//! for any of them that two MACs answered.

use crate::bench_report::{fmt3, j3, ms, stats, Row};
use crate::trial::Outcome;
use serde_json::{json, Value};

/// One trial over all its VIPs.
struct Trial {
    moved: usize,
    worst_gap: f64,
    median_gap: f64,
    last_back: Option<f64>,
    /// None when the faulted node held every VIP.
    untouched_worst: Option<f64>,
    double: usize,
    /// The longest a VIP group was answered for by two nodes.
    split: Option<f64>,
}

fn trial(r: &Outcome) -> Trial {
    let on: Vec<_> = r.others.iter().filter(|o| o.on_faulted).collect();
    let mut gaps: Vec<f64> = on.iter().map(|o| ms(o.gap)).collect();
    gaps.push(ms(r.gap));
    let backs: Vec<f64> = on
        .iter()
        .filter_map(|o| o.back_after.map(ms))
        .chain(r.moved_after.map(ms))
        .collect();
    Trial {
        moved: gaps.len(),
        worst_gap: gaps.iter().copied().fold(0.0, f64::max),
        median_gap: stats(gaps).map_or(0.0, |(_, m, _)| m),
        last_back: (!backs.is_empty()).then(|| backs.iter().copied().fold(0.0, f64::max)),
        untouched_worst: r
            .others
            .iter()
            .filter(|o| !o.on_faulted)
            .map(|o| ms(o.gap))
            .reduce(f64::max),
        double: r.verdict.double + r.others.iter().map(|o| o.double).sum::<usize>(),
        split: r.group_split.map(ms),
    }
}

/// The lab's VIP groups of two or more (as the first control plane's
/// VIPStatus names them).
pub fn lab_groups(c: &crate::cluster::Cluster) -> Vec<Vec<std::net::Ipv4Addr>> {
    let Some(cp) = c.cps().into_iter().next() else {
        return Vec::new();
    };
    let mut groups: std::collections::BTreeMap<String, Vec<std::net::Ipv4Addr>> =
        Default::default();
    for st in c.get_json_all(&cp.2, "vipstatus") {
        let (g, ip) = (&st["spec"]["group"], &st["spec"]["ip"]);
        if let (Some(g), Some(Ok(ip))) = (g.as_str(), ip.as_str().map(str::parse)) {
            groups.entry(g.to_string()).or_default().push(ip);
        }
    }
    groups.into_values().filter(|g| g.len() > 1).collect()
}

/// The longest any of `groups` was answered for by two nodes in trial `r`.
pub fn worst_split(r: &Outcome, groups: &[Vec<std::net::Ipv4Addr>]) -> Option<std::time::Duration> {
    groups.iter().map(|g| r.split(g)).max()
}

/// The worst group split over the trials, when groups were measured.
fn worst_split_ms(t: &[Trial]) -> Option<f64> {
    t.iter().filter_map(|x| x.split).reduce(f64::max)
}

fn trials(r: &Row) -> Vec<Trial> {
    r.trials.iter().map(|t| trial(t)).collect()
}

/// The worst gap of a VIP the faulted node did not hold, over the trials.
fn worst_untouched(t: &[Trial]) -> Option<f64> {
    t.iter().filter_map(|x| x.untouched_worst).reduce(f64::max)
}

pub const HEADER: &str = "scenario             VIPs moved  worst VIP gap ms  median VIP gap ms  last VIP back ms   unmoved VIPs gap  2 MACs (all VIPs)  group split ms";

/// The row of the all-VIP table, when the lab has other VIPs.
pub fn line(r: &Row) -> Option<String> {
    if r.trials.iter().all(|t| t.others.is_empty()) {
        return None;
    }
    let t = trials(r);
    let moved = stats(t.iter().map(|x| x.moved as f64).collect());
    Some(format!(
        "{:<20} {:>10}  {:>16}  {:>17}  {:>16}  {:>17}  {:>17}  {:>14}",
        r.scenario.name(),
        fmt3(moved),
        fmt3(stats(t.iter().map(|x| x.worst_gap).collect())),
        fmt3(stats(t.iter().map(|x| x.median_gap).collect())),
        fmt3(stats(t.iter().filter_map(|x| x.last_back).collect())),
        worst_untouched(&t).map_or("-".into(), |w| format!("{w:.1}")),
        t.iter().map(|x| x.double).sum::<usize>(),
        worst_split_ms(&t).map_or("-".into(), |w| format!("{w:.1}")),
    ))
}

/// The all-VIP table (`total` VIPs), under the usual one.
pub fn print_table(rows: &[Row], total: usize) {
    println!("\nevery VIP ({total} in all; the first is the one above): per trial the VIPs the faulted node held");
    println!("{HEADER}");
    for r in rows {
        println!("{}", line(r).unwrap_or_default());
    }
}

pub fn json(r: &Row) -> Value {
    let t = trials(r);
    json!({
        "vips_moved": j3(stats(t.iter().map(|x| x.moved as f64).collect())),
        "worst_vip_gap_ms": j3(stats(t.iter().map(|x| x.worst_gap).collect())),
        "median_vip_gap_ms": j3(stats(t.iter().map(|x| x.median_gap).collect())),
        "last_vip_back_ms": j3(stats(t.iter().filter_map(|x| x.last_back).collect())),
        "unmoved_vips_worst_gap_ms": worst_untouched(&t),
        "arp_requests_answered_by_two_macs_all_vips": t.iter().map(|x| x.double).sum::<usize>(),
        "group_split_worst_ms": worst_split_ms(&t),
    })
}

/// One trial's all-VIP figures, for the progress lines.
pub fn note(r: &Outcome) -> Option<String> {
    if r.others.is_empty() {
        return None;
    }
    let t = trial(r);
    Some(format!(
        "all VIPs: {} moved, worst gap {:.1} ms, median {:.1} ms, last back {}, unmoved VIPs' worst gap {}, two MACs {}, group split {}",
        t.moved,
        t.worst_gap,
        t.median_gap,
        t.last_back.map_or("-".into(), |b| format!("{b:.1} ms")),
        t.untouched_worst.map_or("-".into(), |w| format!("{w:.1} ms")),
        t.double,
        t.split.map_or("-".into(), |w| format!("{w:.1} ms")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::others::OtherVip;
    use crate::scenario::Scenario;
    use crate::verdict::Verdict;
    use std::time::Duration;

    fn other(last: u8, on_faulted: bool, gap: u64, back: Option<u64>, double: usize) -> OtherVip {
        OtherVip {
            ip: std::net::Ipv4Addr::new(10, 5, 0, last),
            on_faulted,
            gap: Duration::from_millis(gap),
            double,
            back_after: back.map(Duration::from_millis),
            answering: Vec::new(),
        }
    }

    fn outcome(gap: u64, moved_after: u64, others: Vec<OtherVip>) -> Outcome {
        Outcome {
            scenario: Scenario::Dead,
            old_holder: 0,
            new_holder: Some(1),
            gap: Duration::from_millis(gap),
            lost: 0,
            verdict: Verdict {
                double: 1,
                ..Default::default()
            },
            kernel_overlap: Duration::ZERO,
            holder_was_etcd_leader: false,
            quorum: None,
            moved_after: Some(Duration::from_millis(moved_after)),
            flood: None,
            others,
            answering: Vec::new(),
            group_split: None,
        }
    }

    #[test]
    fn only_the_faulted_nodes_vips_count_as_moved_and_doubles_add_up() {
        let r = outcome(
            200,
            210,
            vec![
                other(51, true, 300, Some(320), 0),
                other(52, true, 100, Some(110), 2),
                other(53, false, 10, None, 0),
            ],
        );
        let t = trial(&r);
        assert_eq!(
            t.moved, 3,
            "the first VIP and the two the faulted node held"
        );
        assert_eq!(t.worst_gap, 300.0);
        assert_eq!(t.median_gap, 200.0);
        assert_eq!(t.last_back, Some(320.0));
        assert_eq!(t.untouched_worst, Some(10.0));
        assert_eq!(t.double, 3);
        let note = note(&r).expect("a note with other VIPs");
        assert!(
            note.contains("3 moved") && note.contains("two MACs 3"),
            "{note}"
        );
        let row = Row {
            scenario: Scenario::Dead,
            trials: vec![&r],
        };
        assert!(line(&row).expect("a row").starts_with("dead"));
    }

    #[test]
    fn without_other_vips_there_is_no_row_and_all_moved_means_no_unmoved_gap() {
        let alone = outcome(200, 210, Vec::new());
        assert!(note(&alone).is_none());
        let row = Row {
            scenario: Scenario::Dead,
            trials: vec![&alone],
        };
        assert!(line(&row).is_none());
        let all = outcome(200, 210, vec![other(51, true, 250, Some(260), 0)]);
        assert_eq!(trial(&all).untouched_worst, None);
        assert!(line(&Row {
            scenario: Scenario::Dead,
            trials: vec![&all],
        })
        .expect("a row")
        .contains(" - "));
    }
}
