//! The shared IP on real kernels, etcd and machined: none before bootstrap,
//! exactly one holder after; graceful handover, dead machine, holder cut off
//! from etcd, quorum loss — never two holders, clients repointed each time;
//! removed by hand → re-added; moved and removed by config; added by a live
//! patch; IPv6; machined
//! killed or frozen, its etcd member killed, a deaf candidate; one machined
//! per node.

use machined_tests::cluster::{serial, Cluster};
use machined_tests::faults::VIP;
use machined_tests::monitor::{longest_double, Monitor};
use machined_tests::netns::ip;
use machined_tests::trial::{self, Moves, Scenario};
use machined_tests::{require_root, wait_for, PATIENCE};
use serde_json::Value;
use std::net::IpAddr;
use std::time::Duration;

fn mac_of(netns: &str) -> String {
    let v: Value =
        serde_json::from_str(&ip(&["-n", netns, "-j", "link", "show", "eth0"])).expect("ip -j");
    v[0]["address"].as_str().unwrap_or_default().to_string()
}

/// The LAN's neighbour entry for `addr` (ARP for IPv4, NDP for IPv6).
fn lan_neigh(c: &Cluster, addr: &str) -> String {
    let v: Value = serde_json::from_str(&ip(&["-n", &c.lan(), "-j", "neigh", "show", addr]))
        .unwrap_or(Value::Null);
    v[0]["lladdr"].as_str().unwrap_or_default().to_string()
}

fn holders_of(c: &Cluster, addr: &str) -> Vec<String> {
    c.kernel_holders(addr)
}

#[test]
fn no_vip_before_bootstrap_then_exactly_one_holder() {
    if !require_root("vip bootstrap") {
        return;
    }
    let _serial = serial();
    // Configured the current Talos way: typed documents, no machine.network.
    let c = Cluster::create(
        "v",
        &[
            "--controlplanes",
            "3",
            "--no-bootstrap",
            "--config-style",
            "multidoc",
        ],
    );
    let cps = c.cps();
    let namespaces: Vec<String> = cps.iter().map(|x| x.1.clone()).collect();
    let mon = Monitor::start(&namespaces, "eth0", VIP.parse().unwrap());
    // Every node knows the VIP, none campaigns: etcd is not bootstrapped.
    for (_, _, node) in &cps {
        let st = wait_for("VIPStatus", PATIENCE, || c.vip_status(node));
        assert_eq!(st["campaigning"], false, "{st}");
        assert_eq!(st["holding"], false);
        assert!(
            st["reason"].as_str().unwrap_or_default().contains("etcd"),
            "{st}"
        );
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(holders_of(&c, VIP).is_empty(), "a VIP before bootstrap");
    assert!(mon.holders(3).iter().all(|h| !h));

    let r = c.mctl(&["-n", &cps[0].2, "bootstrap"]);
    assert!(r.ok, "bootstrap: {}", r.stderr);
    let h = c.wait_healthy();
    assert_eq!(holders_of(&c, VIP), vec![cps[h].0.clone()]);
    // Every node names the same holder.
    for (_, _, node) in &cps {
        let st = c.vip_status(node).expect("status");
        assert!(
            st["holder"]
                .as_str()
                .unwrap_or_default()
                .ends_with(&cps[h].0),
            "{st}"
        );
        assert_eq!(st["campaigning"], true);
    }
    // The client reaches the VIP, at the holder's MAC.
    assert!(c.ping(VIP), "the LAN cannot ping the VIP");
    assert_eq!(lan_neigh(&c, VIP), mac_of(&cps[h].1));
    // The API answers on the VIP too, with mTLS: the holder's certificate
    // covers the VIP.
    let r = c.mctl(&["-n", VIP, "get", "vipstatus", "-o", "json"]);
    assert!(
        r.ok && r.stdout.contains("\"holding\":true"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    let changes = mon.stop();
    assert_eq!(longest_double(&changes, 3), Duration::ZERO);
}

#[test]
fn failovers_never_double_own_and_repoint_clients() {
    if !require_root("vip failover") {
        return;
    }
    let _serial = serial();
    let mut c = Cluster::create("f", &["--controlplanes", "3"]);
    let cps = c.cps();
    for s in [
        Scenario::Graceful,
        Scenario::Dead,
        Scenario::Cutoff,
        Scenario::Quorum,
    ] {
        let r = trial::run(&mut c, s, Duration::from_millis(10));
        let label = format!(
            "{} (old holder {}, new {:?})",
            s.name(),
            cps[r.old_holder].0,
            r.new_holder
        );
        r.assert_one_voice(&label, || c.logs());
        let new = r
            .new_holder
            .unwrap_or_else(|| panic!("{label}: nobody holds the VIP\n{}", c.logs()));
        if s != Scenario::Quorum {
            assert_ne!(new, r.old_holder, "{label}: the VIP did not move");
        } else {
            assert!(r.quorum.is_some(), "{label}");
        }
        // The client's ARP cache points at the holder after the move.
        let h = c.wait_healthy();
        let want = mac_of(&cps[h].1);
        wait_for(
            &format!("{label}: LAN neighbour entry at the holder"),
            PATIENCE,
            || {
                let _ = c.ping(VIP);
                (lan_neigh(&c, VIP) == want).then_some(())
            },
        );
    }

    // machined restarted on the holder: the VIP moves, the node comes back
    // as a candidate, and there is still exactly one holder.
    let h = c.wait_healthy();
    c.stop_node(h);
    c.start_node(h);
    let h2 = c.wait_healthy();
    assert_ne!(h, h2);
    assert_eq!(holders_of(&c, VIP).len(), 1);
    let st = c.vip_status(&cps[h].2).expect("restarted node's status");
    assert_eq!(
        (st["holding"].clone(), st["campaigning"].clone()),
        (Value::Bool(false), Value::Bool(true)),
        "{st}"
    );
}

/// machined itself failing on the holder: killed, frozen, its etcd member
/// killed; and a candidate that cannot hear the holder. Never two holders
/// (as netlink in every node shows), nothing removed by hand.
#[test]
fn machined_faults_never_double_own() {
    if !require_root("vip machined faults") {
        return;
    }
    let _serial = serial();
    let mut c = Cluster::create("m", &["--controlplanes", "3"]);
    let cps = c.cps();

    // One machined per node: a second one on the same state is refused
    // before it touches anything.
    let h = c.wait_healthy();
    let state = c.node_dir(&cps[h].0).join("state");
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &cps[h].1])
        .arg(machined_tests::bins::machined())
        .args([
            "--state-dir",
            &state.to_string_lossy(),
            "--listen",
            "127.0.0.1:50999",
        ])
        .output()
        .expect("second machined");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a second machined ran: {err}");
    assert!(err.contains("another machined"), "{err}");

    for s in [
        Scenario::Crash,
        Scenario::Pause,
        Scenario::EtcdDown,
        Scenario::DeafCandidate,
    ] {
        let r = trial::run(&mut c, s, Duration::from_millis(10));
        let label = format!("{} (old holder {})", s.name(), cps[r.old_holder].0);
        r.assert_one_voice(&label, || c.logs());
        let new = r
            .new_holder
            .unwrap_or_else(|| panic!("{label}: nobody holds the VIP\n{}", c.logs()));
        if s.moves() == Moves::Yes {
            assert_ne!(new, r.old_holder, "{label}: the VIP did not move");
        } else {
            assert_eq!(
                new, r.old_holder,
                "{label}: a deaf candidate deposed the holder"
            );
        }
        let h = c.wait_healthy();
        assert_eq!(holders_of(&c, VIP), vec![cps[h].0.clone()], "{label}");
        wait_for(
            &format!("{label}: the LAN reaches the VIP"),
            PATIENCE,
            || c.ping(VIP).then_some(()),
        );
    }
}

fn apply(c: &Cluster, short: &str, node: &str, text: &str) {
    let path = c.node_dir(short).join("changed.yaml");
    std::fs::write(&path, text).unwrap();
    let r = c.mctl(&["-n", node, "apply-config", "-f", &path.to_string_lossy()]);
    assert!(r.ok, "apply to {short}: {}", r.stderr);
}

#[test]
fn hand_removal_config_moves_and_ipv6() {
    if !require_root("vip config") {
        return;
    }
    let _serial = serial();
    let c = Cluster::create("h", &["--controlplanes", "3"]);
    let cps = c.cps();
    let h = c.wait_healthy();
    let (hname, hns, hip) = cps[h].clone();

    // Removed by hand on the holder: put back and announced again.
    let frames = |node: &str| -> u64 {
        c.get_json(node, "announcestatus")
            .map_or(0, |v| v["spec"]["frames"].as_u64().unwrap_or(0))
    };
    let before = frames(&hip);
    assert!(before > 0, "the holder announced the VIP");
    ip(&["-n", &hns, "addr", "del", &format!("{VIP}/32"), "dev", "lo"]);
    wait_for("VIP re-added", PATIENCE, || {
        (holders_of(&c, VIP) == vec![hname.clone()]).then_some(())
    });
    wait_for("re-announced", PATIENCE, || {
        (frames(&hip) > before).then_some(())
    });

    // Config: move the VIP to .60 on every control plane, add an IPv6
    // address and an IPv6 VIP (Layer2VIPConfig).
    ip(&[
        "-n",
        &c.lan(),
        "addr",
        "add",
        "fd00:5::1/64",
        "dev",
        "br0",
        "nodad",
    ]);
    let originals: Vec<String> = cps
        .iter()
        .map(|(s, _, _)| std::fs::read_to_string(c.node_dir(s).join("config.yaml")).unwrap())
        .collect();
    for (i, (short, _, node)) in cps.iter().enumerate() {
        let n = 11 + i;
        let mut v: yaml_serde::Value = yaml_serde::from_str(&originals[i]).expect("node config");
        let iface = &mut v["machine"]["network"]["interfaces"][0];
        iface["vip"]["ip"] = "10.5.0.60".into();
        if let yaml_serde::Value::Sequence(a) = &mut iface["addresses"] {
            a.push(format!("fd00:5::{n}/64").into());
        }
        let text = yaml_serde::to_string(&v).expect("yaml")
            + "---\napiVersion: v1alpha1\nkind: Layer2VIPConfig\nname: fd00:5::50\nlink: eth0\n";
        apply(&c, short, node, &text);
    }
    wait_for("the VIP moved to .60", PATIENCE, || {
        (holders_of(&c, VIP).is_empty() && holders_of(&c, "10.5.0.60").len() == 1).then_some(())
    });
    let v6 = wait_for("one IPv6 VIP holder", Duration::from_secs(60), || {
        let hs = holders_of(&c, "fd00:5::50");
        (hs.len() == 1).then(|| hs[0].clone())
    });
    let v6ns = cps.iter().find(|x| x.0 == v6).unwrap().1.clone();
    wait_for("ping -6 the IPv6 VIP from the LAN", PATIENCE, || {
        c.ping("fd00:5::50").then_some(())
    });
    assert_eq!(lan_neigh(&c, "fd00:5::50"), mac_of(&v6ns));

    // The IPv6 VIP moves on graceful stop, and the LAN follows via the
    // unsolicited neighbour advertisement.
    let i6 = cps.iter().position(|x| x.0 == v6).unwrap();
    c.stop_node(i6);
    let moved = wait_for("IPv6 VIP moved", Duration::from_secs(30), || {
        let hs = holders_of(&c, "fd00:5::50");
        (hs.len() == 1 && hs[0] != v6).then(|| hs[0].clone())
    });
    let movedns = cps.iter().find(|x| x.0 == moved).unwrap().1.clone();
    wait_for("LAN NDP entry at the new IPv6 holder", PATIENCE, || {
        let _ = std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                &c.lan(),
                "ping",
                "-6",
                "-c",
                "1",
                "-W",
                "1",
                "fd00:5::50",
            ])
            .output();
        (lan_neigh(&c, "fd00:5::50") == mac_of(&movedns)).then_some(())
    });
    c.start_node(i6);

    // Back to the original config: both extra VIPs go away everywhere.
    for (i, (short, _, node)) in cps.iter().enumerate() {
        wait_for("API", PATIENCE, || {
            c.get_json(node, "vipstatus").map(|_| ())
        });
        apply(&c, short, node, &originals[i]);
    }
    wait_for(
        "IPv6 VIP and .60 released, .50 back",
        Duration::from_secs(60),
        || {
            (holders_of(&c, "fd00:5::50").is_empty()
                && holders_of(&c, "10.5.0.60").is_empty()
                && holders_of(&c, VIP).len() == 1)
                .then_some(())
        },
    );

    // A patch on the running nodes (as `talosctl patch mc`) adds a VIP,
    // which comes up with one holder; a JSON 6902 patch on a config that is
    // now multi-document is refused and changes nothing.
    let nodes: Vec<&str> = cps.iter().map(|x| x.2.as_str()).collect();
    c.patch_all("apiVersion: v1alpha1\nkind: Layer2VIPConfig\nname: 10.5.0.70\nlink: eth0\n");
    wait_for("one holder of the patched-in VIP", PATIENCE, || {
        (holders_of(&c, "10.5.0.70").len() == 1).then_some(())
    });
    wait_for("ping the patched-in VIP", PATIENCE, || {
        c.ping("10.5.0.70").then_some(())
    });
    let r = c.mctl(&[
        "-n",
        nodes[0],
        "patch",
        "mc",
        "-p",
        r#"[{"op": "replace", "path": "/machine/network/hostname", "value": "x"}]"#,
    ]);
    assert!(
        !r.ok
            && r.stderr
                .contains("a JSON 6902 patch cannot change a multi-document"),
        "{}",
        r.stderr
    );
    assert_eq!(holders_of(&c, VIP).len(), 1);
    let _: IpAddr = VIP.parse().unwrap();
}
