//! Operating a cluster as a Talos admin would, on real nodes: one endpoint
//! reaches every node (`-e` with `-n`), a reader stays a reader through an
//! admin's endpoint, an endpoint that is down fails over to the next, a VIP
//! as endpoint draws a warning; the etcd verbs (members, status, snapshot,
//! forfeit-leadership, leave and join, remove-member) and the quorum guard
//! on leave, remove and reboot; `mctl health` passing, then naming the
//! failing check when a member is stopped; a rolling reboot of every node
//! with the VIP and etcd's quorum up throughout.

use machined_tests::cluster::{serial, Cluster};
use machined_tests::faults::VIP;
use machined_tests::probe::{gap, Prober};
use machined_tests::{require_root, wait_for, PATIENCE};
use serde_json::Value;
use std::time::{Duration, Instant};

#[test]
fn endpoints_proxy_nodes_and_roles_hold() {
    if !require_root("endpoints proxy") {
        return;
    }
    let _serial = serial();
    let c = Cluster::create("op", &["--controlplanes", "3"]);
    let cps = c.cps();
    let ips: Vec<String> = cps.iter().map(|x| x.2.clone()).collect();
    c.wait_healthy();

    // Only the first node as endpoint, every node as target: results come
    // back tagged by node, each as that node sees itself.
    let r = c.mctl(&[
        "-e",
        &ips[0],
        "-n",
        &ips.join(","),
        "get",
        "etcdstatus",
        "-o",
        "json",
    ]);
    assert!(r.ok, "{}", r.stderr);
    let rows: Vec<Value> = r
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(rows.len(), 3, "{}", r.stdout);
    for (row, ip) in rows.iter().zip(&ips) {
        assert_eq!(row["node"], ip.as_str(), "{row}");
    }
    let ids: std::collections::HashSet<&str> = rows
        .iter()
        .filter_map(|r| r["spec"]["memberId"].as_str())
        .collect();
    assert_eq!(ids.len(), 3, "each node answered for itself: {ids:?}");
    // Streams go through too.
    let r = c.mctl(&[
        "-e",
        &ips[0],
        "-n",
        &ips[2],
        "events",
        "--tail",
        "3",
        "--no-follow",
    ]);
    assert!(
        r.ok && r.stdout.lines().count() == 4,
        "{}{}",
        r.stdout,
        r.stderr
    );

    // A reader through the admin's endpoint is still a reader.
    let reader = c.dir.0.join("reader.cfg");
    let r = c.mctl(&[
        "-n",
        &ips[0],
        "config",
        "new",
        "--roles",
        "os:reader",
        &reader.to_string_lossy(),
    ]);
    assert!(r.ok, "{}", r.stderr);
    let as_reader = |args: &[&str]| {
        let mut all = vec!["--mctlconfig", reader.to_str().unwrap()];
        all.extend_from_slice(args);
        c.mctl(&all)
    };
    let r = as_reader(&["-e", &ips[0], "-n", &ips[1], "get", "vipstatus"]);
    assert!(r.ok, "a reader may read: {}", r.stderr);
    let r = as_reader(&["-e", &ips[0], "-n", &ips[1], "get", "machineconfig"]);
    assert!(
        !r.ok && r.stderr.contains("os:reader may not"),
        "{}",
        r.stderr
    );
    let r = as_reader(&[
        "-e", &ips[0], "-n", &ips[1], "vip", "forfeit", VIP, "--for", "1m",
    ]);
    assert!(!r.ok && r.stderr.contains("needs os:admin"), "{}", r.stderr);
    assert_eq!(
        c.vip_status(&ips[1]).unwrap()["campaigning"],
        true,
        "a reader forfeited"
    );

    // The first endpoint down (machined stopped there): the next one.
    c.stop_node(0);
    let r = c.mctl(&[
        "-e",
        &format!("{},{}", ips[0], ips[1]),
        "-n",
        &ips[2],
        "version",
    ]);
    assert!(r.ok, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("endpoint {}", ips[0])) && r.stderr.contains("trying the next"),
        "{}",
        r.stderr
    );
    c.start_node(0);
    wait_for("node 1 back", PATIENCE, || {
        c.vip_status(&ips[0]).map(|_| ())
    });

    // A VIP as endpoint: it works while the VIP is up, with a warning.
    let h = c.wait_healthy();
    let r = c.mctl(&["-e", VIP, "-n", &ips[(h + 1) % 3], "version"]);
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stderr.contains("is a VIP"), "{}", r.stderr);

    etcd_verbs(&c);
    health(&c);
    rolling_reboot(&c);
    typos_and_a_second_context(&c);
}

/// What an operator types by mistake: a patch with a typo is refused with
/// a did-you-mean and changes nothing; a second client config of the same
/// name merged in comes in renamed, and both keep working credentials.
fn typos_and_a_second_context(c: &Cluster) {
    let ip = c.cps()[0].2.clone();
    let before = c.get_json(&ip, "machineconfig").expect("config");
    let r = c.mctl(&[
        "-n",
        &ip,
        "patch",
        "mc",
        "-p",
        "machine: {network: {hostnmae: x}}",
    ]);
    assert!(
        !r.ok
            && r.stderr.contains("machine.network.hostnmae")
            && r.stderr.contains("did you mean hostname?"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    let r = c.mctl(&[
        "-n",
        &ip,
        "patch",
        "mc",
        "-p",
        "apiVersion: v1alpha1\nkind: Layer2VIPConfg\nname: 10.5.0.60\nlink: eth0\n",
    ]);
    assert!(
        !r.ok && r.stderr.contains("did you mean Layer2VIPConfig?"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    assert_eq!(c.get_json(&ip, "machineconfig").expect("config"), before);

    // A reader's client config for the same cluster has the same context
    // name; merged into the admin's file it must not replace the admin.
    let contexts = c.mctl(&["config", "contexts"]);
    let admin = contexts
        .stdout
        .lines()
        .find(|l| l.starts_with('*'))
        .and_then(|l| l.split_whitespace().nth(1))
        .expect("a current context")
        .to_string();
    let file = c.dir.0.join("reader-mctlconfig");
    let file = file.to_string_lossy();
    let r = c.mctl(&["-n", &ip, "config", "new", "--roles", "os:reader", &file]);
    assert!(r.ok, "config new: {}", r.stderr);
    let r = c.mctl(&["config", "merge", &file]);
    let renamed = format!("{admin}-1");
    assert!(
        r.ok && r
            .stdout
            .contains(&format!("renamed context {admin} to {renamed}")),
        "{}{}",
        r.stdout,
        r.stderr
    );
    let as_ = |ctx: &str, ty: &str| c.mctl(&["--context", ctx, "-n", &ip, "get", ty]);
    assert!(
        as_(&admin, "machineconfig").ok,
        "the admin context lost its credentials"
    );
    assert!(
        as_(&renamed, "vipstatus").ok,
        "the merged reader context does not work"
    );
    let r = as_(&renamed, "machineconfig");
    assert!(
        !r.ok && r.stderr.contains("needs os:admin"),
        "a reader read the config: {}",
        r.stderr
    );
    let r = c.mctl(&["config", "context", &admin]);
    assert!(r.ok, "{}", r.stderr);
}

/// `mctl reboot -n cp1,cp2,cp3`: one node at a time, each back with etcd
/// healthy before the next, so the VIP answers and etcd keeps its quorum
/// throughout (a linearizable read through any member every 200 ms).
fn rolling_reboot(c: &Cluster) {
    c.wait_healthy();
    let cps = c.cps();
    let ips: Vec<String> = cps.iter().map(|x| x.2.clone()).collect();
    let urls: Vec<String> = ips.iter().map(|ip| format!("https://{ip}:2379")).collect();
    let all = urls.join(",");
    let probe = Prober::start(
        &c.lan(),
        VIP.parse().expect("VIP"),
        Duration::from_millis(50),
    )
    .expect("ICMP prober");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (r, reads) = std::thread::scope(|sc| {
        let reader = sc.spawn(|| {
            let mut reads: Vec<(Instant, bool)> = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let ok = c
                    .etcdctl(
                        0,
                        &all,
                        &["--command-timeout", "1s", "get", "rolling-reboot-probe"],
                    )
                    .is_ok_and(|o| o.status.success());
                reads.push((Instant::now(), ok));
                std::thread::sleep(Duration::from_millis(200));
            }
            reads
        });
        let r = c.mctl(&["-n", &ips.join(","), "reboot"]);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        (r, reader.join().expect("reader"))
    });
    let probes = probe.stop();
    assert!(r.ok, "rolling reboot: {}{}", r.stdout, r.stderr);
    // Each node came back, in turn, before the next was asked.
    let order: Vec<usize> = ips
        .iter()
        .map(|ip| {
            r.stdout
                .find(&format!("{ip}: back after"))
                .expect("each node back")
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{}", r.stdout);
    for ip in &ips {
        let asked = r.stdout.find(&format!("{ip}: rebooting")).expect("asked");
        let back = r
            .stdout
            .find(&format!("{ip}: etcd running"))
            .expect("etcd back");
        assert!(asked < back, "{}", r.stdout);
    }
    // etcd answered throughout: no stretch of failed reads longer than an
    // etcd leader election (a failed read is retried every 200 ms).
    let mut worst = Duration::ZERO;
    let mut since: Option<Instant> = None;
    for (at, ok) in &reads {
        match (ok, since) {
            (false, None) => since = Some(*at),
            (true, Some(s)) => {
                worst = worst.max(at.duration_since(s));
                since = None;
            }
            _ => {}
        }
    }
    assert!(since.is_none(), "etcd did not answer at the end");
    assert!(reads.len() > 10, "too few reads: {}", reads.len());
    assert!(
        worst < Duration::from_secs(3),
        "etcd lost its quorum for {worst:?}"
    );
    let (gap, _) = gap(&probes);
    assert!(
        gap < Duration::from_secs(3),
        "the VIP went away for {gap:?}"
    );
    eprintln!(
        "rolling reboot: {} etcd reads, longest without one {worst:?}; VIP gap {gap:?}",
        reads.len()
    );
    c.wait_healthy();
}

fn health(c: &Cluster) {
    let cps = c.cps();
    let ips: Vec<String> = cps.iter().map(|x| x.2.clone()).collect();
    c.wait_healthy();
    let r = c.mctl(&["-n", &ips[0], "health", "--wait-timeout", "60s"]);
    assert!(r.ok, "{}{}", r.stdout, r.stderr);
    for want in [
        "etcd to be healthy on every control plane: OK",
        "members to be consistent",
        "none advertised on a VIP: OK",
        &format!("holder of the VIP {VIP}"),
        "to answer from this side: OK",
    ] {
        assert!(r.stdout.contains(want), "{want} missing:\n{}", r.stdout);
    }
    // A member stopped: the failing check is named, with the member.
    c.stop_node(2);
    let r = c.mctl(&["-n", &ips[0], "health", "--wait-timeout", "5s"]);
    assert!(!r.ok, "health passed with a member stopped:\n{}", r.stdout);
    let name = format!("{}-{}", c.name, cps[2].0);
    assert!(
        r.stdout
            .contains("etcd to be healthy on every control plane: FAILED")
            && r.stdout.contains(&name),
        "{}",
        r.stdout
    );
    c.start_node(2);
    c.wait_healthy();
}

fn members(c: &Cluster, via: &str) -> Vec<String> {
    let r = c.mctl(&["-n", via, "etcd", "members"]);
    assert!(r.ok, "{}", r.stderr);
    r.stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(2).map(String::from))
        .collect()
}

fn phase(c: &Cluster, ip: &str) -> String {
    c.get_json(ip, "etcdstatus")
        .and_then(|v| v["spec"]["phase"].as_str().map(String::from))
        .unwrap_or_default()
}

fn etcd_verbs(c: &Cluster) {
    let cps = c.cps();
    let ips: Vec<String> = cps.iter().map(|x| x.2.clone()).collect();
    c.wait_healthy();
    assert_eq!(members(c, &ips[0]).len(), 3);
    let r = c.mctl(&["-n", &ips[0], "etcd", "status"]);
    assert!(
        r.ok && r.stdout.lines().count() == 4,
        "{}{}",
        r.stdout,
        r.stderr
    );
    assert!(
        r.stdout
            .lines()
            .skip(1)
            .all(|l| l.contains("KiB") || l.contains("MiB")),
        "{}",
        r.stdout
    );

    let snap = c.dir.0.join("etcd.snapshot");
    let r = c.mctl(&["-n", &ips[1], "etcd", "snapshot", &snap.to_string_lossy()]);
    assert!(r.ok, "{}", r.stderr);
    let size = std::fs::metadata(&snap).map(|m| m.len()).unwrap_or(0);
    assert!(size > 4096, "snapshot of {size} bytes");

    // The leader hands leadership over.
    let leader = c.etcd_leader(&ips[0]);
    let li = cps
        .iter()
        .position(|x| leader.ends_with(&format!("-{}", x.0)))
        .expect("a leader");
    let r = c.mctl(&["-n", &ips[li], "etcd", "forfeit-leadership"]);
    assert!(r.ok, "{}", r.stderr);
    wait_for("another etcd leader", PATIENCE, || {
        (c.etcd_leader(&ips[0]) != leader).then_some(())
    });

    // A node that is not the VIP holder leaves; the VIP stays up.
    let h = c.wait_healthy();
    let out = (h + 1) % 3;
    let stay = (h + 2) % 3;
    let r = c.mctl(&["-n", &ips[out], "etcd", "leave"]);
    assert!(r.ok, "leave: {}", r.stderr);
    assert_eq!(members(c, &ips[h]).len(), 2);
    assert_eq!(phase(c, &ips[out]), "stopped");
    assert!(c.ping(VIP), "the VIP went with the leave");
    assert_eq!(c.holder(), Some(h));
    // Two members left: a reboot of either would cost quorum.
    let r = c.mctl(&["-n", &ips[stay], "reboot"]);
    assert!(!r.ok && r.stderr.contains("lose quorum"), "{}", r.stderr);
    assert_eq!(phase(c, &ips[stay]), "running", "refused, yet it went down");
    // Back in as a new member.
    let r = c.mctl(&["-n", &ips[out], "etcd", "join"]);
    assert!(r.ok, "{}", r.stderr);
    wait_for(
        "the node running etcd again",
        Duration::from_secs(60),
        || (phase(c, &ips[out]) == "running" && members(c, &ips[h]).len() == 3).then_some(()),
    );

    // With one member down, removing a healthy one would cost quorum; the
    // dead one may go (and comes back by joining on restart).
    c.stop_node(out);
    let id_of = |i: usize| {
        c.get_json(&ips[i], "etcdstatus")
            .and_then(|v| v["spec"]["memberId"].as_str().map(String::from))
            .unwrap_or_default()
    };
    let healthy_id = id_of(stay);
    let r = c.mctl(&["-n", &ips[h], "etcd", "remove-member", &healthy_id]);
    assert!(!r.ok && r.stderr.contains("lose quorum"), "{}", r.stderr);
    assert_eq!(members(c, &ips[h]).len(), 3);
    c.start_node(out);
    c.wait_healthy();
    eprintln!("etcd verbs: leave, join, guards and removal checked");
}

/// `etcdctl ARGS` against control plane `i`'s own member.
fn etcdctl(c: &Cluster, i: usize, args: &[&str]) -> std::process::Output {
    let url = format!("https://{}:2379", c.cps()[i].2);
    c.etcdctl(i, &url, args).expect("etcdctl")
}

#[test]
fn recover_from_a_snapshot_on_fresh_nodes() {
    if !require_root("etcd recover") {
        return;
    }
    let _serial = serial();
    let snap = {
        let a = Cluster::create("ra", &["--controlplanes", "3"]);
        a.wait_healthy();
        let out = etcdctl(&a, 0, &["put", "recovered/key", "kept across clusters"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ip = a.cps()[0].2.clone();
        let snap = std::env::temp_dir().join(format!("machined-snap-{}.db", std::process::id()));
        let r = a.mctl(&["-n", &ip, "etcd", "snapshot", &snap.to_string_lossy()]);
        assert!(r.ok, "{}", r.stderr);
        snap
    };
    // Fresh nodes, another cluster's secrets, nothing bootstrapped.
    let b = Cluster::create("rb", &["--controlplanes", "3", "--no-bootstrap"]);
    let ip = b.cps()[0].2.clone();
    wait_for("waiting-for-bootstrap", PATIENCE, || {
        (b.get_json(&ip, "etcdstatus")?["spec"]["phase"] == "waiting-for-bootstrap").then_some(())
    });
    let junk = std::env::temp_dir().join(format!("machined-junk-{}.db", std::process::id()));
    std::fs::write(&junk, b"not a snapshot").unwrap();
    let r = b.mctl(&[
        "-n",
        &ip,
        "bootstrap",
        "--recover-from",
        &junk.to_string_lossy(),
    ]);
    assert!(
        !r.ok && r.stderr.contains("does not restore"),
        "{}",
        r.stderr
    );
    assert_eq!(
        b.get_json(&ip, "etcdstatus").unwrap()["spec"]["phase"],
        "waiting-for-bootstrap",
        "a refused recovery changed something"
    );
    let r = b.mctl(&[
        "-n",
        &ip,
        "bootstrap",
        "--recover-from",
        &snap.to_string_lossy(),
    ]);
    assert!(r.ok, "{}", r.stderr);
    b.wait_healthy();
    let out = etcdctl(&b, 2, &["get", "recovered/key", "--print-value-only"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "kept across clusters"
    );
    assert!(b.ping(VIP), "the VIP is not back");
    let r = b.mctl(&[
        "-n",
        &ip,
        "bootstrap",
        "--recover-from",
        &snap.to_string_lossy(),
    ]);
    assert!(!r.ok && r.stderr.contains("already"), "{}", r.stderr);
    let _ = std::fs::remove_file(&snap);
    let _ = std::fs::remove_file(&junk);
}
