//! Failover benchmark: builds a 3-control-plane lab with `mctl cluster
//! create`, runs each scenario N times, prints per scenario the
//! client-visible gap (min/median/max, ICMP every `--probe-ms`), probes
//! lost, the ARP requests (one every 10 ms from the LAN) that two MACs
//! answered, the answers and gratuitous ARPs from a node etcd did not name
//! as the holder, the longest time two kernels had the VIP (netns lab), the
//! ARP reply latency, and machined's RSS and CPU time per node.
//!
//! Usage: bench-failover [--provisioner netns|qemu] [--trials N] [--scenarios NAME,...]
//!                       [--probe-ms 10] [--arp-ms 10] [--idle-secs 0] [--json]
//!
//! `--provisioner qemu` runs the cluster as three VMs booted from the OS
//! image and the scenarios that are a machine's (graceful: `mctl shutdown`;
//! dead: kill -9 of qemu; forfeit; freeze: the whole VM stopped on qemu's
//! monitor for 5 s, its clock with it).
//!
//! `--idle-secs N` first measures each node's machined CPU over N idle
//! seconds (no probes, no faults) and prints it with the node's role.
//!
//! The lab runs the stand-in service on every node (`--stand-in`); for the
//! `unhealthy` trials only, a health check of it is patched into every
//! node (HTTPS /readyz every 1 s, fall 3, rise 3, hold-down 0 so each trial
//! measures detection and handover alone) and patched out afterwards.

use machined_tests::bench_others;
use machined_tests::bench_report::{line, ms, Row, HEADER};
use machined_tests::cluster::Cluster;
use machined_tests::service::{check_patch, NO_CHECK_PATCH};
use machined_tests::trial::{self, Outcome, Scenario};
use serde_json::json;
use std::time::Duration;

struct Opts {
    trials: usize,
    scenarios: Vec<Scenario>,
    probe: Duration,
    arp: Duration,
    idle: Duration,
    json: bool,
    qemu: bool,
    /// Control planes in the netns lab.
    controlplanes: u8,
    /// The lab's VIPs after the first (`--vips K`: .51 on).
    others: Vec<std::net::Ipv4Addr>,
    /// VIP groups the VIPs are split into (`--groups G`; 0: none).
    groups: u8,
}

/// A count given to `flag`, from `lo` to `hi`.
fn in_range(flag: &str, v: &str, lo: u8, hi: u8) -> Result<u8, String> {
    v.parse()
        .ok()
        .filter(|n| (lo..=hi).contains(n))
        .ok_or(format!("{flag}: {lo} to {hi}"))
}

fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        trials: 5,
        scenarios: Scenario::all().to_vec(),
        probe: Duration::from_millis(10),
        arp: Duration::from_millis(10),
        idle: Duration::ZERO,
        json: false,
        qemu: false,
        controlplanes: 3,
        others: Vec::new(),
        groups: 0,
    };
    let mut chosen = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--trials" => o.trials = val("--trials")?.parse().map_err(|_| "--trials: a number")?,
            "--probe-ms" => o.probe = Duration::from_millis(val("--probe-ms")?.parse().map_err(|_| "--probe-ms: a number")?),
            "--arp-ms" => o.arp = Duration::from_millis(val("--arp-ms")?.parse::<u64>().map_err(|_| "--arp-ms: a number")?.max(1)),
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
            "--controlplanes" => o.controlplanes = in_range("--controlplanes", &val("--controlplanes")?, 3, 9)?,
            "--vips" => {
                let k = in_range("--vips", &val("--vips")?, 1, 32)?;
                o.others = (1..k).map(|i| std::net::Ipv4Addr::new(10, 5, 0, 50 + i)).collect();
            }
            "--groups" => o.groups = in_range("--groups", &val("--groups")?, 1, 32)?,
            "-h" | "--help" => return Err(format!("usage: bench-failover [--provisioner netns|qemu] [--trials N] [--scenarios {}] [--probe-ms 10] [--arp-ms 10] [--idle-secs 0] [--controlplanes 3] [--vips 1] [--groups G] [--json]",
                Scenario::all().map(|s| s.name()).join(","))),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if o.trials == 0 {
        return Err("--trials: at least 1".into());
    }
    if usize::from(o.groups) > o.others.len() + 1 {
        return Err("--groups: at most as many as --vips".into());
    }
    if o.qemu && (!o.others.is_empty() || o.groups > 0) {
        return Err("--vips: the netns lab only (the VMs' configs carry one VIP)".into());
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
    eprintln!(
        "building the lab (mctl cluster create, {} control planes)...",
        if o.qemu { 3 } else { o.controlplanes }
    );
    let mut c = if o.qemu {
        eprintln!("(virtual machines: mctl cluster create --provisioner qemu)");
        Cluster::create("bench", &machined_tests::vm::THREE_VMS)
    } else {
        netns_lab(&o)
    };
    let idle = (!o.idle.is_zero()).then(|| machined_tests::bench_idle::idle_cpu(&c, o.idle));
    let groups = bench_others::lab_groups(&c);
    let mut results: Vec<Outcome> = Vec::new();
    for s in &o.scenarios {
        if *s == Scenario::Unhealthy {
            c.patch_all(&check_patch("1s", 3, 3, "0s"));
            c.wait_health_everywhere("healthy");
        }
        for t in 1..=o.trials {
            let mut r = trial::run_with(&mut c, *s, o.probe, o.arp, &o.others);
            r.group_split = bench_others::worst_split(&r, &groups);
            let v = &r.verdict;
            eprintln!(
                "{:<8} trial {t}: gap {:>7.1} ms, lost {:>3}, two MACs {}, stale {}/{}, late {}, kernels {:.1} ms, holder {} -> {}, etcd leader: {}{}",
                s.name(),
                ms(r.gap),
                r.lost,
                v.double,
                v.stale_replies,
                v.stale_garps,
                v.late_replies,
                ms(r.kernel_overlap),
                r.old_holder + 1,
                r.new_holder.map_or("none".to_string(), |n| (n + 1).to_string()),
                r.holder_was_etcd_leader,
                r.quorum.map_or(String::new(), |q| format!(
                    ", released after {:.0} ms, pinned {:.0} ms, pin ended {:.0} ms, back {:.0} ms",
                    ms(q.released), ms(q.pinned), ms(q.pin_ended), ms(q.back)
                ))
            );
            if let Some(n) = bench_others::note(&r) {
                eprintln!("    {n}");
            }
            for e in &r.verdict.stale_examples {
                eprintln!("    stale: {e}");
            }
            results.push(r);
        }
        if *s == Scenario::Unhealthy {
            c.patch_all(NO_CHECK_PATCH);
        }
    }
    let usage = c.usage();
    let rows: Vec<Row> = o
        .scenarios
        .iter()
        .map(|s| Row {
            scenario: *s,
            trials: results.iter().filter(|r| r.scenario == *s).collect(),
        })
        .collect();
    let usage_json: Vec<_> = usage
        .iter()
        .map(|(n, rss, cpu)| json!({"node": n, "rss_kib": rss, "cpu_ms": cpu}))
        .collect();
    if o.json {
        println!(
            "{}",
            json!({"probe_ms": o.probe.as_millis() as u64, "scenarios": rows.iter().map(Row::json).collect::<Vec<_>>(),
                "all_vips": (!o.others.is_empty()).then(|| rows.iter().map(|r| json!({"scenario": r.scenario.name(), "figures": bench_others::json(r)})).collect::<Vec<_>>()), "machined": usage_json,
                "vms": c.is_vm().then(|| c.vm_usage().into_iter().map(|(n, u)| json!({"node": n,
                    "init_rss_kib": u.map(|u| u.init_kib), "daemon_rss_kib": u.map(|u| u.daemon_kib),
                    "daemon_cpu_ms": u.map(|u| u.daemon_cpu_ms)})).collect::<Vec<_>>()),
                "idle": idle.as_ref().map(|v| v.iter().map(|(n, role, pct)| json!({"node": n, "role": role, "cpu_percent": pct})).collect::<Vec<_>>())})
        );
        return;
    }
    print_text(&o, &rows, idle.as_deref(), &c, &usage);
}

/// The tables and the per-node figures, as text.
fn print_text(
    o: &Opts,
    rows: &[Row],
    idle: Option<&[(String, &'static str, f64)]>,
    c: &Cluster,
    usage: &[(String, u64, u64)],
) {
    println!(
        "ICMP every {} ms and an ARP request every {} ms from the LAN namespace; {} trial(s) per scenario",
        o.probe.as_millis(),
        o.arp.as_millis(),
        o.trials
    );
    println!("{HEADER}");
    for r in rows {
        println!("{}", line(r));
    }
    if !o.others.is_empty() {
        bench_others::print_table(rows, o.others.len() + 1);
    }
    if let Some(v) = idle {
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

/// The netns lab: `--controlplanes`, the stand-in service, and every VIP
/// when there are several.
fn netns_lab(o: &Opts) -> Cluster {
    let cps = o.controlplanes.to_string();
    let mut args = vec!["--controlplanes".to_string(), cps, "--stand-in".to_string()];
    if !o.others.is_empty() {
        let first = machined_tests::faults::VIP.to_string();
        for v in std::iter::once(first).chain(o.others.iter().map(|v| v.to_string())) {
            args.extend(["--vip".to_string(), v]);
        }
    }
    if o.groups > 0 {
        args.extend(["--vip-groups".to_string(), o.groups.to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Cluster::create("bench", &args)
}
