//! Planned moves on real nodes: `mctl vip forfeit` hands the VIP over and
//! keeps the node out until the forfeit ends; `mctl vip move --to` puts it
//! on the node named (by address or by name), through any node; a node
//! given a higher priority takes the VIP over after its preempt delay and
//! keeps it. Each move is a graceful handover as the client sees it (the
//! gap is printed; the benchmark's `forfeit` scenario measures it), and
//! netlink never shows two holders.

use machined_tests::cluster::{serial, Cluster};
use machined_tests::faults::VIP;
use machined_tests::monitor::{longest_double, Monitor};
use machined_tests::probe::{gap, Prober};
use machined_tests::{require_root, wait_for, PATIENCE};
use std::time::{Duration, Instant};

fn holder_now(mon: &Monitor, n: usize) -> Option<usize> {
    let h = mon.holders(n);
    (h.iter().filter(|x| **x).count() == 1).then(|| h.iter().position(|x| *x))?
}

#[test]
fn forfeit_move_and_priority_hand_the_vip_over_gracefully() {
    if !require_root("vip planned moves") {
        return;
    }
    let _serial = serial();
    let c = Cluster::create("mv", &["--controlplanes", "3"]);
    let cps = c.cps();
    let n = cps.len();
    let ips: Vec<String> = cps.iter().map(|x| x.2.clone()).collect();
    let namespaces: Vec<String> = cps.iter().map(|x| x.1.clone()).collect();
    let h0 = c.wait_healthy();
    let mon = Monitor::start(&namespaces, "eth0", VIP.parse().unwrap());
    let probe =
        Prober::start(&c.lan(), VIP.parse().unwrap(), Duration::from_millis(10)).expect("prober");

    // Forfeit on the holder: the VIP goes elsewhere, the node stays out.
    let r = c.forfeit(h0, VIP, 60);
    assert!(r.ok, "forfeit: {}{}", r.stdout, r.stderr);
    let h1 = wait_for("the VIP off the forfeiting node", PATIENCE, || {
        holder_now(&mon, n).filter(|h| *h != h0)
    });
    assert!(r.stdout.contains("held by"), "{}", r.stdout);
    let st = c.vip_status(&ips[h0]).expect("VIPStatus");
    assert_eq!(st["campaigning"], false, "{st}");
    assert!(
        st["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("forfeited until"),
        "{st}"
    );
    // Still out a while later (no re-election of it).
    let t = Instant::now();
    wait_for("a few seconds of forfeit", PATIENCE, || {
        assert_ne!(
            holder_now(&mon, n),
            Some(h0),
            "the forfeiting node took the VIP back"
        );
        (t.elapsed() > Duration::from_secs(2)).then_some(())
    });
    let r = c.forfeit(h0, VIP, 0);
    assert!(
        r.ok && r.stdout.contains("ended"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    wait_for("the node a candidate again", PATIENCE, || {
        (c.vip_status(&ips[h0])?["campaigning"] == true).then_some(())
    });
    assert!(
        c.events(&ips[h0])
            .iter()
            .any(|e| e["kind"] == "vip-released" && e["fields"]["reason"] == "forfeited"),
        "no forfeited release event"
    );

    // Move to a node by its address, asking a node that does not hold.
    let asker = (0..n).find(|i| *i != h1 && *i != h0).unwrap_or(h0);
    let r = c.move_vip(asker, VIP, &ips[h0]);
    assert!(r.ok, "move: {}{}", r.stdout, r.stderr);
    wait_for("the VIP on the node named", PATIENCE, || {
        (holder_now(&mon, n) == Some(h0)).then_some(())
    });
    assert!(
        c.events(&ips[h1])
            .iter()
            .any(|e| e["kind"] == "vip-released" && e["fields"]["reason"] == "moved"),
        "no moved release event on the old holder"
    );
    // ...and by its name, back to the other one.
    let name = format!("{}-{}", c.name, cps[h1].0);
    let r = c.move_vip(h0, VIP, &name);
    assert!(r.ok, "move by name: {}{}", r.stdout, r.stderr);
    wait_for("the VIP on the node named", PATIENCE, || {
        (holder_now(&mon, n) == Some(h1)).then_some(())
    });
    // A node that is not a candidate gets nothing: the holder keeps the
    // VIP (no gap) and the request ends by itself.
    let before = mon.changes().len();
    let r = c.move_vip(h1, VIP, "no-such-node");
    assert!(
        !r.ok && r.stderr.contains("still held"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    assert_eq!(
        holder_now(&mon, n),
        Some(h1),
        "a move to nowhere moved the VIP"
    );
    assert_eq!(
        mon.changes().len(),
        before,
        "a move to nowhere moved the VIP"
    );

    let probes = probe.stop();
    let (g, lost) = gap(&probes);
    eprintln!("longest client gap over the forfeit and moves: {g:?} ({lost} probes lost)");

    // Priority: the third node gets a higher one and takes over by itself
    // after its preempt delay, then keeps the VIP.
    let h = holder_now(&mon, n).expect("a holder");
    let pref = (0..n).find(|i| *i != h).unwrap_or(0);
    let patch = "machine:\n  network:\n    interfaces:\n      - interface: eth0\n        vip:\n          machined:\n            priority: 10\n            preemptDelay: 2s\n";
    let file = c.dir.0.join("priority.yaml");
    std::fs::write(&file, patch).unwrap();
    let r = c.mctl(&[
        "-n",
        &ips[pref],
        "patch",
        "mc",
        "-p",
        &format!("@{}", file.display()),
    ]);
    assert!(r.ok, "patch: {}", r.stderr);
    wait_for(
        "the preferred node to take the VIP over",
        Duration::from_secs(60),
        || (holder_now(&mon, n) == Some(pref)).then_some(()),
    );
    let before = mon.changes().len();
    let t = Instant::now();
    wait_for("the preferred node keeping the VIP", PATIENCE, || {
        assert_eq!(
            holder_now(&mon, n),
            Some(pref),
            "the VIP left the preferred node"
        );
        (t.elapsed() > Duration::from_secs(5)).then_some(())
    });
    assert_eq!(mon.changes().len(), before, "the VIP moved again");

    let changes = mon.stop();
    assert_eq!(
        longest_double(&changes, n),
        Duration::ZERO,
        "two holders at once"
    );

    // The context cluster create merged names the LAN namespace: a call
    // that fails there says so, and `--netns ''` runs here instead.
    let plain = |extra: &[&str]| {
        let out = std::process::Command::new(machined_tests::bins::mctl())
            .env("MCTLCONFIG", c.dir.0.join("mctlconfig"))
            .args(extra)
            .args(["-n", "127.0.0.1:1", "version"])
            .output()
            .expect("mctl");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = plain(&[]);
    assert!(
        err.contains(&format!("network namespace \"{}\"", c.lan())) && err.contains("--netns ''"),
        "{err}"
    );
    let err = plain(&["--netns", ""]);
    assert!(!err.contains("network namespace"), "{err}");
}
