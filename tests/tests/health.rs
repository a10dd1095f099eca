//! The VIP follows a healthy service, on real nodes: a stand-in API server
//! on every control plane (`cluster create --stand-in`), a health check
//! patched into the running configs. Stopping the service on the holder
//! moves the VIP; failing it everywhere keeps the VIP where it was; two
//! nodes flapping against each other move it no faster than the hold-down
//! allows. Never two holders, as netlink in every node shows.

use machined_tests::cluster::{serial, Cluster};
use machined_tests::faults::VIP;
use machined_tests::monitor::{longest_double, Change, Monitor};
use machined_tests::service::{check_patch, NO_CHECK_PATCH};
use machined_tests::{require_root, wait_for, PATIENCE};
use std::time::{Duration, Instant};

/// Times a node other than the one before it took the VIP.
fn moves(changes: &[Change]) -> usize {
    let mut last = None;
    let mut n = 0;
    for (_, node, holds) in changes {
        if *holds && last != Some(*node) {
            if last.is_some() {
                n += 1;
            }
            last = Some(*node);
        }
    }
    n
}

fn reason(c: &Cluster, ip: &str) -> String {
    c.vip_status(ip)
        .and_then(|s| s["reason"].as_str().map(String::from))
        .unwrap_or_default()
}

#[test]
fn the_vip_follows_a_healthy_service() {
    if !require_root("vip health check") {
        return;
    }
    let _serial = serial();
    let c = Cluster::create("hc", &["--controlplanes", "3", "--stand-in"]);
    let cps = c.cps();
    let ips: Vec<String> = cps.iter().map(|x| x.2.clone()).collect();
    let namespaces: Vec<String> = cps.iter().map(|x| x.1.clone()).collect();
    let h0 = c.wait_healthy();
    let mon = Monitor::start(&namespaces, "eth0", VIP.parse().unwrap());

    // The check arrives by a live patch; taking it does not move the VIP.
    c.patch_all(&check_patch("200ms", 2, 2, "3s"));
    c.wait_health_everywhere("healthy");
    for ip in &ips {
        let st = c.vip_status(ip).expect("VIPStatus");
        assert_eq!(st["health"], "healthy", "{st}");
    }
    assert_eq!(c.wait_healthy(), h0, "adding the check moved the VIP");
    assert_eq!(moves(&mon.changes()), 0, "adding the check moved the VIP");

    // 1. The service dies on the holder: the VIP goes to a healthy node;
    //    the old holder says why it stays out.
    c.stop_service(h0);
    let h1 = wait_for("the VIP to leave the unhealthy holder", PATIENCE, || {
        let h = mon.holders(cps.len());
        (h.iter().filter(|x| **x).count() == 1 && !h[h0]).then(|| h.iter().position(|x| *x))?
    });
    let st = c.vip_health(&ips[h0]).expect("VIPHealthStatus");
    assert_eq!(st["state"], "failing", "{st}");
    assert!(
        st["lastResult"]
            .as_str()
            .unwrap_or_default()
            .contains("refused"),
        "{st}"
    );
    wait_for("the old holder to say it stands by", PATIENCE, || {
        let st = c.vip_status(&ips[h0])?;
        (st["campaigning"] == false && reason(&c, &ips[h0]).contains("health check")).then_some(())
    });
    assert!(c.ping(VIP), "the LAN cannot reach the VIP after the move");

    // Back up: a candidate again after `rise` passes; the VIP stays put.
    c.start_service(h0);
    wait_for("the old holder to campaign again", PATIENCE, || {
        (c.vip_status(&ips[h0])?["campaigning"] == true).then_some(())
    });
    assert_eq!(c.wait_healthy(), h1);

    // 2. The service fails everywhere: the VIP stays where it was, and the
    //    holder says why it keeps it.
    for i in 0..cps.len() {
        c.service_down(i, true);
    }
    c.wait_health_everywhere("failing");
    wait_for("the holder to say it keeps the VIP", PATIENCE, || {
        reason(&c, &ips[h1])
            .contains("no healthy candidate")
            .then_some(())
    });
    // Several check intervals and candidate polls later, still there.
    let t = Instant::now();
    wait_for("a few seconds with every check failing", PATIENCE, || {
        let h = mon.holders(cps.len());
        assert!(
            h[h1] && h.iter().filter(|x| **x).count() == 1,
            "the VIP left {} although no node is healthy: {h:?}",
            cps[h1].0
        );
        (t.elapsed() > Duration::from_secs(3)).then_some(())
    });
    assert!(
        c.ping(VIP),
        "the VIP stopped answering with every check failing"
    );
    for i in 0..cps.len() {
        c.service_down(i, false);
    }
    c.wait_health_everywhere("healthy");

    // 3. Two nodes flap against each other every second (the third stays
    //    down): without a hold-down the VIP would move every second; with
    //    3 s it moves at most once per 3 s of the window (+1 for the edge).
    let h2 = c.wait_healthy();
    let flappers = [h2, (h2 + 1) % cps.len()];
    let steady_down = (h2 + 2) % cps.len();
    c.service_down(steady_down, true);
    let before = mon.changes().len();
    let window = Duration::from_secs(15);
    let start = Instant::now();
    let mut phase = false;
    while start.elapsed() < window {
        c.service_down(flappers[0], !phase);
        c.service_down(flappers[1], phase);
        phase = !phase;
        std::thread::sleep(Duration::from_secs(1));
    }
    let during = moves(&mon.changes()[before.saturating_sub(1)..]);
    for i in 0..cps.len() {
        c.service_down(i, false);
    }
    let most = (window.as_secs() / 3 + 1) as usize;
    assert!(
        during >= 1,
        "flapping never moved the VIP: the check did not gate anything"
    );
    assert!(
        during <= most,
        "the VIP moved {during} times in {window:?} with a 3 s hold-down (at most {most})"
    );
    eprintln!("flapping: {during} move(s) in {window:?} (at most {most} allowed)");

    // Without the check the nodes all campaign again.
    c.patch_all(NO_CHECK_PATCH);
    for ip in &ips {
        wait_for("the check gone", PATIENCE, || {
            let st = c.vip_status(ip)?;
            (st["health"].is_null() && st["campaigning"] == true).then_some(())
        });
    }
    c.wait_healthy();
    let changes = mon.stop();
    assert_eq!(
        longest_double(&changes, cps.len()),
        Duration::ZERO,
        "two holders at once"
    );
}
