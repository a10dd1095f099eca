//! Operating a cluster as a Talos admin would, on real nodes: one endpoint
//! reaches every node (`-e` with `-n`), a reader stays a reader through an
//! admin's endpoint, an endpoint that is down fails over to the next, a VIP
//! as endpoint draws a warning.

use machined_tests::cluster::{serial, Cluster};
use machined_tests::faults::VIP;
use machined_tests::{require_root, wait_for, PATIENCE};
use serde_json::Value;

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
}
