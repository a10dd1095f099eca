//! Five control planes on real nodes: etcd bootstraps and joins five
//! members, every node sees them; `mctl health` passes; the quorum guard
//! counts to five (with two nodes down, a reboot of a third is refused,
//! as it would leave two of five); the holder's machine dies and another
//! of the four answers for the VIP, never two at once. The lab has four
//! VIPs in two VIP groups (`--vip` four times, `--vip-groups 2`): the
//! first VIP's group (it and .51) moves as one to one node, no group is
//! ever answered for by two nodes, no request for any VIP ever has two
//! answers, and every node names one holder for both members.

use machined_tests::cluster::{serial, Cluster};
use machined_tests::require_root;
use machined_tests::trial::{self, Scenario};
use std::time::Duration;

#[test]
fn five_control_planes_elect_guard_quorum_and_fail_over() {
    if !require_root("five control planes") {
        return;
    }
    let _serial = serial();
    let ip = |s: &str| -> std::net::Ipv4Addr { s.parse().expect("literal") };
    let first = ip(machined_tests::faults::VIP);
    let others = [ip("10.5.0.51"), ip("10.5.0.52"), ip("10.5.0.53")];
    let groups = [[first, others[0]], [others[1], others[2]]];
    let mut c = Cluster::create(
        "five",
        &[
            "--controlplanes",
            "5",
            "--vip",
            machined_tests::faults::VIP,
            "--vip",
            "10.5.0.51",
            "--vip",
            "10.5.0.52",
            "--vip",
            "10.5.0.53",
            "--vip-groups",
            "2",
        ],
    );
    let cps = c.cps();
    assert_eq!(cps.len(), 5);
    let ips: Vec<String> = cps.iter().map(|x| x.2.clone()).collect();
    let h = c.wait_healthy();

    // Every node sees five voting members.
    for ip in &ips {
        let st = c.get_json(ip, "etcdstatus").expect("EtcdStatus");
        let members = st["spec"]["members"].as_array().map_or(0, Vec::len);
        assert_eq!(members, 5, "{ip}: {st}");
    }
    let r = c.mctl(&["-n", &ips[0], "health", "--wait-timeout", "60s"]);
    assert!(r.ok, "health: {}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("etcd to be healthy on every control plane: OK"),
        "{}",
        r.stdout
    );

    // Two nodes down (not the holder): three of five keep quorum, and a
    // third may not go.
    let down: Vec<usize> = (0..5).filter(|i| *i != h).take(2).collect();
    let third = (0..5)
        .find(|i| *i != h && !down.contains(i))
        .expect("a third");
    for &i in &down {
        c.stop_node(i);
    }
    // (stop_node returns once their machined and etcd have exited.)
    let r = c.mctl(&["-n", &ips[third], "reboot", "--wait=false"]);
    assert!(
        !r.ok && r.stderr.contains("lose quorum"),
        "reboot of a third of five: {}{}",
        r.stdout,
        r.stderr
    );
    assert!(
        c.ping(machined_tests::faults::VIP),
        "the VIP with three of five"
    );
    for &i in &down {
        c.start_node(i);
    }
    c.wait_healthy();

    // The holder's machine dies: one of the four others answers, alone.
    let every = Duration::from_millis(10);
    let r = trial::run_with(&mut c, Scenario::Dead, every, every, &others);
    let label = format!("dead holder at five (old {})", cps[r.old_holder].0);
    r.assert_one_voice(&label, || c.logs());
    let new = r
        .new_holder
        .unwrap_or_else(|| panic!("{label}: nobody holds the VIP\n{}", c.logs()));
    assert_ne!(new, r.old_holder, "{label}: the VIP did not move");
    // The first VIP's group was on the dead node, all of it, and all of it
    // came back; no group was ever answered for by two nodes.
    let o = &r.others[0];
    assert!(o.on_faulted, "{label}: {} was not with {first}", o.ip);
    assert!(
        o.back_after.is_some(),
        "{label}: {} did not come back",
        o.ip
    );
    for g in &groups {
        let split = r.split(g);
        assert_eq!(
            split,
            Duration::ZERO,
            "{label}: group {g:?} split for {split:?}\n{}",
            c.logs()
        );
    }
    // Every node names one holder for both members of the first group:
    // the node that answers for them.
    let want = format!("-{}", cps[new].0);
    machined_tests::wait_for(
        "every node to name the new holder of the first group",
        Duration::from_secs(30),
        || {
            let all = ips.iter().all(|node| {
                groups[0].iter().all(|vip| {
                    c.get_one(node, "vipstatus", &vip.to_string())
                        .is_some_and(|st| {
                            st["spec"]["holder"]
                                .as_str()
                                .is_some_and(|h| h.ends_with(&want))
                                && st["spec"]["group"] == "vips-1"
                        })
                })
            });
            all.then_some(())
        },
    );
    eprintln!("five control planes: dead holder, client gap {:?}", r.gap);
}
