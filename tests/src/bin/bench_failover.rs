//! Failover benchmark: builds a 3-control-plane lab with `mctl cluster
//! create`, runs each scenario N times, prints per scenario the
//! client-visible gap (min/median/max), probes lost, the longest double
//! ownership, and machined's RSS and CPU time per node.
//!
//! Usage: bench-failover [--provisioner netns|qemu] [--trials N] [--scenarios graceful,dead,dead-etcd-leader,cutoff,quorum,crash,pause,etcd-down,deaf-candidate,unhealthy,forfeit,freeze]
//!                       [--probe-ms 10] [--idle-secs 0] [--json]
//!
//! `--provisioner qemu` runs the cluster as three VMs booted from the OS
//! image and the scenarios that are a machine's (graceful: `mctl shutdown`;
//! dead: kill -9 of qemu; forfeit; freeze: the whole VM stopped on qemu's
//! monitor for 5 s, its clock with it);
//! who holds the VIP is then what answers ARP for it on the LAN, every
//! 10 ms, since a VM's netlink is inside it.
//!
//! `--idle-secs N` first measures each node's machined CPU over N idle
//! seconds (no probes, no faults) and prints it with the node's role.
//!
//! The lab runs the stand-in service on every node (`--stand-in`); for the
//! `unhealthy` trials only, a health check of it is patched into every
//! node (HTTPS /readyz every 1 s, fall 3, rise 3, hold-down 0 so each trial
//! measures detection and handover alone) and patched out afterwards.

use machined_tests::cluster::Cluster;
use machined_tests::service::{check_patch, NO_CHECK_PATCH};
use machined_tests::trial::{self, Outcome, Scenario};
use serde_json::json;
use std::time::Duration;

struct Opts {
    trials: usize,
    scenarios: Vec<Scenario>,
    probe: Duration,
    idle: Duration,
    json: bool,
    qemu: bool,
}

fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        trials: 5,
        scenarios: Scenario::all().to_vec(),
        probe: Duration::from_millis(10),
        idle: Duration::ZERO,
        json: false,
        qemu: false,
    };
    let mut chosen = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--trials" => o.trials = val("--trials")?.parse().map_err(|_| "--trials: a number")?,
            "--probe-ms" => o.probe = Duration::from_millis(val("--probe-ms")?.parse().map_err(|_| "--probe-ms: a number")?),
            "--scenarios" => {
                o.scenarios = val("--scenarios")?
                    .split(',')
                    .map(|s| Scenario::parse(s).ok_or(format!("unknown scenario {s:?}")))
                    .collect::<Result<_, _>>()?;
                chosen = true;
            }
            "--provisioner" => match val("--provisioner")?.as_str() {
                "netns" => o.qemu = false,
                "qemu" => o.qemu = true,
                p => return Err(format!("--provisioner: netns or qemu, not {p:?}")),
            },
            "--idle-secs" => o.idle = Duration::from_secs(val("--idle-secs")?.parse().map_err(|_| "--idle-secs: a number")?),
            "--json" => o.json = true,
            "-h" | "--help" => return Err("usage: bench-failover [--provisioner netns|qemu] [--trials N] [--scenarios graceful,dead,dead-etcd-leader,cutoff,quorum,crash,pause,etcd-down,deaf-candidate,unhealthy,forfeit,freeze] [--probe-ms 10] [--idle-secs 0] [--json]".into()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if o.trials == 0 {
        return Err("--trials: at least 1".into());
    }
    let runs = |s: &Scenario| if o.qemu { s.on_vms() } else { s.on_netns() };
    if !chosen {
        o.scenarios.retain(runs);
    }
    if let Some(s) = o.scenarios.iter().find(|s| !runs(s)) {
        return Err(format!(
            "--scenarios: {} does not run on {} (VMs run graceful, dead, forfeit, freeze)",
            s.name(),
            if o.qemu { "VMs" } else { "the netns lab" }
        ));
    }
    Ok(o)
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

fn stats(mut v: Vec<f64>) -> Option<(f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let median = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    Some((v[0], median, v[v.len() - 1]))
}

fn fmt3(s: Option<(f64, f64, f64)>) -> String {
    s.map_or("-".into(), |(a, b, c)| format!("{a:.0} / {b:.0} / {c:.0}"))
}

fn main() {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("bench-failover needs root (network namespaces)");
        std::process::exit(1);
    }
    eprintln!("building the lab (mctl cluster create, 3 control planes)...");
    let mut c = if o.qemu {
        eprintln!("(virtual machines: mctl cluster create --provisioner qemu)");
        Cluster::create("bench", &machined_tests::vm::THREE_VMS)
    } else {
        Cluster::create("bench", &["--controlplanes", "3", "--stand-in"])
    };
    let idle = (!o.idle.is_zero()).then(|| idle_cpu(&c, o.idle));
    let mut results: Vec<Outcome> = Vec::new();
    for s in &o.scenarios {
        if *s == Scenario::Unhealthy {
            c.patch_all(&check_patch("1s", 3, 3, "0s"));
            c.wait_health_everywhere("healthy");
        }
        for t in 1..=o.trials {
            let r = trial::run(&mut c, *s, o.probe);
            eprintln!(
                "{:<8} trial {t}: gap {:>7.1} ms, lost {:>3}, double {:.1} ms, holder {} -> {}, holder was etcd leader: {}{}",
                s.name(),
                ms(r.gap),
                r.lost,
                ms(r.double),
                r.old_holder + 1,
                r.new_holder.map_or("none".to_string(), |n| (n + 1).to_string()),
                r.holder_was_etcd_leader,
                r.released_after.map_or(String::new(), |d| format!(", released after {:.0} ms", ms(d)))
            );
            results.push(r);
        }
        if *s == Scenario::Unhealthy {
            c.patch_all(NO_CHECK_PATCH);
        }
    }
    let usage = c.usage();
    let mut rows = Vec::new();
    for s in &o.scenarios {
        let rs: Vec<&Outcome> = results.iter().filter(|r| r.scenario == *s).collect();
        let gaps = stats(rs.iter().map(|r| ms(r.gap)).collect());
        let lead: Vec<&&Outcome> = rs.iter().filter(|r| r.holder_was_etcd_leader).collect();
        rows.push(json!({
            "scenario": s.name(),
            "trials": rs.len(),
            "gap_ms": gaps.map(|(a, b, c)| json!({"min": a, "median": b, "max": c})),
            "probes_lost": rs.iter().map(|r| r.lost).sum::<usize>(),
            "double_ownership_ms_max": rs.iter().map(|r| ms(r.double)).fold(0.0, f64::max),
            "holder_was_etcd_leader": lead.len(),
            "gap_ms_when_holder_was_etcd_leader": stats(lead.iter().map(|r| ms(r.gap)).collect()).map(|(a, b, c)| json!({"min": a, "median": b, "max": c})),
            "released_after_ms": stats(rs.iter().filter_map(|r| r.released_after.map(ms)).collect()).map(|(a, b, c)| json!({"min": a, "median": b, "max": c})),
            "moved_after_ms": stats(rs.iter().filter_map(|r| r.moved_after.map(ms)).collect()).map(|(a, b, c)| json!({"min": a, "median": b, "max": c})),
            "back_after_restart_ms": stats(rs.iter().filter_map(|r| r.back_after.map(ms)).collect()).map(|(a, b, c)| json!({"min": a, "median": b, "max": c})),
        }));
    }
    let usage_json: Vec<_> = usage
        .iter()
        .map(|(n, rss, cpu)| json!({"node": n, "rss_kib": rss, "cpu_ms": cpu}))
        .collect();
    if o.json {
        println!(
            "{}",
            json!({"probe_ms": o.probe.as_millis() as u64, "scenarios": rows, "machined": usage_json,
                "vms": c.is_vm().then(|| c.vm_usage().into_iter().map(|(n, u)| json!({"node": n,
                    "init_rss_kib": u.map(|u| u.init_kib), "daemon_rss_kib": u.map(|u| u.daemon_kib),
                    "daemon_cpu_ms": u.map(|u| u.daemon_cpu_ms)})).collect::<Vec<_>>()),
                "idle": idle.as_ref().map(|v| v.iter().map(|(n, role, pct)| json!({"node": n, "role": role, "cpu_percent": pct})).collect::<Vec<_>>())})
        );
    } else {
        println!(
            "probe every {} ms from the LAN namespace; {} trial(s) per scenario",
            o.probe.as_millis(),
            o.trials
        );
        println!(
            "{:<14} {:>6}  {:>24}  {:>6}  {:>10}  notes",
            "scenario", "trials", "gap ms min / med / max", "lost", "double ms"
        );
        for (s, r) in o.scenarios.iter().zip(&rows) {
            let rs: Vec<&Outcome> = results.iter().filter(|x| x.scenario == *s).collect();
            let gaps = stats(rs.iter().map(|x| ms(x.gap)).collect());
            let mut notes = Vec::new();
            let lead: Vec<f64> = rs
                .iter()
                .filter(|x| x.holder_was_etcd_leader)
                .map(|x| ms(x.gap))
                .collect();
            if !lead.is_empty() {
                notes.push(format!(
                    "holder was etcd leader in {}: gap {}",
                    lead.len(),
                    fmt3(stats(lead))
                ));
            }
            let moved = rs
                .iter()
                .filter(|x| x.new_holder.is_some_and(|n| n != x.old_holder))
                .count();
            if !s.moves() || moved != rs.len() {
                notes.push(format!("VIP moved in {moved} of {}", rs.len()));
            }
            if *s == Scenario::Unhealthy {
                notes.push(format!(
                    "moved {} ms after the service died (check every 1 s, fall 3)",
                    fmt3(stats(
                        rs.iter().filter_map(|x| x.moved_after.map(ms)).collect()
                    ))
                ));
            }
            if *s == Scenario::Quorum {
                notes.push(format!(
                    "released after {} ms; back {} ms after restart",
                    fmt3(stats(
                        rs.iter().filter_map(|x| x.released_after.map(ms)).collect()
                    )),
                    fmt3(stats(
                        rs.iter().filter_map(|x| x.back_after.map(ms)).collect()
                    ))
                ));
            }
            println!(
                "{:<14} {:>6}  {:>24}  {:>6}  {:>10.1}  {}",
                s.name(),
                rs.len(),
                fmt3(gaps),
                r["probes_lost"],
                r["double_ownership_ms_max"].as_f64().unwrap_or_default(),
                notes.join("; ")
            );
        }
        if let Some(v) = &idle {
            println!(
                "idle machined CPU over {} s: {}",
                o.idle.as_secs(),
                v.iter()
                    .map(|(n, role, pct)| format!("{n} ({role}) {pct:.2} %"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if c.is_vm() {
            println!(
                "machined per VM at the end (mctl processes): {}",
                c.vm_usage()
                    .iter()
                    .map(|(n, u)| match u {
                        Some(u) => format!(
                            "{n}: PID 1 RSS {:.1} MiB, daemon RSS {:.1} MiB, daemon CPU {} ms",
                            u.init_kib as f64 / 1024.0,
                            u.daemon_kib as f64 / 1024.0,
                            u.daemon_cpu_ms
                        ),
                        None => format!("{n}: no answer"),
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            );
        }
        if !usage.is_empty() {
            println!(
                "machined per node at the end: {}",
                usage
                    .iter()
                    .map(|(n, rss, cpu)| format!("{n}: RSS {} MiB, CPU {} ms", rss / 1024, cpu))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
        }
    }
}

/// Each node's machined CPU (percent of one core) over `window` on an idle
/// lab, with its role (holder or candidate) at the start and the end.
fn idle_cpu(c: &Cluster, window: Duration) -> Vec<(String, &'static str, f64)> {
    let holder = c.wait_healthy();
    let before = c.usage();
    let t = std::time::Instant::now();
    machined_tests::wait_for("the idle window", window + Duration::from_secs(10), || {
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
