//! DHCP on the VIP's link, with a real DHCP server (dnsmasq, run by
//! `mctl cluster create --dhcp` in the LAN namespace): three control planes
//! take their addresses by DHCP, bootstrap, and the VIP comes up and fails
//! over; a renewal and a server restart do not disturb the VIP; a machined
//! restart keeps the address; a NAK on renewal takes the address away, and
//! the node lets go of the VIP before that; its new address is re-advertised
//! to etcd.

use machined_tests::cluster::{pids_named, serial, Cluster};
use machined_tests::faults::VIP;
use machined_tests::monitor::{longest_double, Monitor};
use machined_tests::netns::ip;
use machined_tests::trial::{self, Scenario};
use machined_tests::{require_root, wait_for, PATIENCE};
use serde_json::Value;
use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Longer than a lease's T1 (the lab's leases are 2 minutes).
const RENEWAL: Duration = Duration::from_secs(100);

fn dhcp_status(c: &Cluster, node_ip: &str) -> Option<Value> {
    Some(c.get_json(node_ip, "dhcpstatus")?["spec"].clone())
}

/// `eth0`'s addresses in `ns` as (address, valid lifetime in seconds).
fn addrs(ns: &str) -> Vec<(String, u64)> {
    let v: Value = serde_json::from_str(&ip(&["-n", ns, "-j", "addr", "show", "dev", "eth0"]))
        .unwrap_or(Value::Null);
    v[0]["addr_info"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["family"] == "inet")
        .map(|a| {
            (
                a["local"].as_str().unwrap_or_default().to_string(),
                a["valid_life_time"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect()
}

/// The LAN's dnsmasq: its pid and command line.
fn dnsmasq(c: &Cluster) -> (u32, Vec<String>) {
    let pids = pids_named(&c.lan(), "dnsmasq");
    assert_eq!(pids.len(), 1, "one dnsmasq in the LAN: {pids:?}");
    let raw = std::fs::read(format!("/proc/{}/cmdline", pids[0])).expect("cmdline");
    let args = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    (pids[0], args)
}

/// Stops the LAN's dnsmasq (by its pid; `ours` when this test started it,
/// so it is reaped) and starts it again with `args`.
fn restart_dnsmasq(c: &Cluster, pid: u32, ours: Option<Child>, args: &[String]) -> Child {
    let p = nix::unistd::Pid::from_raw(pid as i32);
    let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGTERM);
    if let Some(mut child) = ours {
        let _ = child.wait();
    }
    wait_for("dnsmasq to exit", PATIENCE, || {
        (!std::path::Path::new(&format!("/proc/{pid}")).exists()).then_some(())
    });
    let child = Command::new("ip")
        .args(["netns", "exec", &c.lan()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting dnsmasq again");
    wait_for("dnsmasq to run again", PATIENCE, || {
        (pids_named(&c.lan(), "dnsmasq").len() == 1).then_some(())
    });
    child
}

#[test]
fn dhcp_control_planes_hold_the_vip_through_renewals_restarts_and_a_nak() {
    if !require_root("dhcp cluster") {
        return;
    }
    let _serial = serial();
    let mut c = Cluster::create("dh", &["--controlplanes", "3", "--dhcp"]);
    let cps = c.cps();
    let nss: Vec<String> = cps.iter().map(|n| n.1.clone()).collect();

    // Every node bound, on its reserved address, added with the lease's
    // lifetime (not forever); the VIP a /32 beside it, never from DHCP.
    for (short, ns, node_ip) in &cps {
        let st = dhcp_status(&c, node_ip).unwrap_or_else(|| panic!("{short}: no DHCPStatus"));
        assert_eq!(st["state"], "bound", "{short}: {st}");
        assert!(
            st["address"]
                .as_str()
                .unwrap_or_default()
                .starts_with(&format!("{node_ip}/")),
            "{st}"
        );
        let lifetime = addrs(ns)
            .into_iter()
            .find(|(a, _)| a == node_ip)
            .map(|(_, l)| l)
            .unwrap_or_else(|| panic!("{short}: {node_ip} not on eth0"));
        assert!(
            lifetime <= 120,
            "{short}: lease address valid for {lifetime} s"
        );
    }

    // Failover as without DHCP.
    let r = trial::run(&mut c, Scenario::Graceful, Duration::from_millis(10));
    r.assert_one_voice("graceful", || c.logs());
    let new = r
        .new_holder
        .unwrap_or_else(|| panic!("nobody holds the VIP\n{}", c.logs()));
    assert_ne!(new, r.old_holder, "graceful: the VIP did not move");

    // A renewal on the holder and a server restart before it: the holder
    // keeps the VIP, alone.
    let h = c.wait_healthy();
    let (hs, _, h_ip) = &cps[h];
    let vip: IpAddr = VIP.parse().expect("VIP");
    let mon = Monitor::start(&nss, "eth0", vip);
    let acquired = dhcp_status(&c, h_ip).expect("status")["acquired"].clone();
    let (pid, args) = dnsmasq(&c);
    let ours = restart_dnsmasq(&c, pid, None, &args);
    wait_for(&format!("{hs} to renew its lease"), RENEWAL, || {
        let st = dhcp_status(&c, h_ip)?;
        (st["acquired"] != acquired && st["state"] == "bound").then_some(())
    });
    let changes = mon.stop();
    assert_eq!(longest_double(&changes, nss.len()), Duration::ZERO);
    assert!(
        changes.iter().all(|(_, i, holds)| *holds == (*i == h)),
        "the VIP moved during the renewal: {changes:?}"
    );

    // machined restarted on a candidate: the same address again.
    let o = (h + 1) % cps.len();
    let (os, ons, o_ip) = &cps[o];
    c.stop_node(o);
    c.start_node(o);
    wait_for(&format!("{os} bound again"), PATIENCE, || {
        let st = dhcp_status(&c, o_ip)?;
        (st["state"] == "bound").then_some(st)
    });
    assert!(
        addrs(ons).iter().any(|(a, _)| a == o_ip),
        "{os} lost {o_ip}"
    );
    c.wait_healthy();

    // The server withdraws the holder's lease: its reservation moves, so
    // the renewal is refused (NAK). The holder lets go of the VIP before
    // its address goes, and another node takes the VIP.
    let h = c.wait_healthy();
    let (hs, hns, h_ip) = cps[h].clone();
    let vip_mon = Monitor::start(&nss, "eth0", vip);
    let addr_mon = Monitor::start(
        std::slice::from_ref(&hns),
        "eth0",
        h_ip.parse().expect("ip"),
    );
    let (pid, args) = dnsmasq(&c);
    let moved: Vec<String> = args
        .iter()
        .map(|a| {
            if a.starts_with("--dhcp-host=") && a.contains(&format!(",{h_ip},")) {
                a.replace(&format!(",{h_ip},"), ",10.5.0.150,")
            } else {
                a.clone()
            }
        })
        .collect();
    assert_ne!(moved, args, "no reservation for {h_ip}: {args:?}");
    let mut ours = restart_dnsmasq(&c, pid, Some(ours), &moved);
    let start = Instant::now();
    wait_for(&format!("{hs} to lose {h_ip}"), RENEWAL, || {
        (!addrs(&hns).iter().any(|(a, _)| *a == h_ip)).then_some(())
    });
    let lost_after = start.elapsed();
    let new = wait_for("another holder", PATIENCE, || {
        let hs = c.kernel_holders(VIP);
        (hs.len() == 1 && hs[0] != cps[h].0).then(|| (0..cps.len()).find(|i| cps[*i].0 == hs[0]))?
    });
    let vip_changes = vip_mon.stop();
    let addr_changes = addr_mon.stop();
    assert_eq!(longest_double(&vip_changes, nss.len()), Duration::ZERO);
    let vip_gone = vip_changes
        .iter()
        .find(|(_, i, holds)| *i == h && !*holds)
        .map(|c| c.0)
        .unwrap_or_else(|| panic!("{hs} never let go of the VIP: {vip_changes:?}"));
    let addr_gone = addr_changes
        .iter()
        .find(|(_, _, holds)| !*holds)
        .map(|c| c.0)
        .unwrap_or_else(|| panic!("{h_ip} never left {hs}: {addr_changes:?}"));
    assert!(
        vip_gone <= addr_gone,
        "{hs} held the VIP {:?} after losing {h_ip}",
        vip_gone - addr_gone
    );
    let st = dhcp_status(&c, &cps[new].2).expect("status");
    assert_eq!(st["state"], "bound", "{st}");
    eprintln!(
        "NAK: {h_ip} gone {lost_after:?} after the server changed; VIP on {}",
        cps[new].0
    );

    // The node takes its new reservation, and its etcd member follows: the
    // other members list it at the new address, and it serves again there.
    let moved_ip = "10.5.0.150";
    wait_for(&format!("{hs} bound at {moved_ip}"), RENEWAL, || {
        addrs(&hns).iter().any(|(a, _)| a == moved_ip).then_some(())
    });
    let peer = format!("//{moved_ip}:2380");
    wait_for(
        &format!("{hs}'s etcd member at {moved_ip}"),
        PATIENCE,
        || {
            let st = c.get_json(&cps[new].2, "etcdstatus")?;
            let members = st["spec"]["members"].as_array()?.clone();
            let listed = members.iter().any(|m| {
                m["peerUrls"].as_array().is_some_and(|u| {
                    u.iter()
                        .any(|u| u.as_str().is_some_and(|u| u.contains(&peer)))
                })
            });
            (listed && st["spec"]["phase"] == "running").then_some(())
        },
    );
    wait_for(
        &format!("{hs}'s etcd running at {moved_ip}"),
        PATIENCE,
        || {
            let st = c.get_json(moved_ip, "etcdstatus")?;
            (st["spec"]["phase"] == "running" && st["spec"]["members"].as_array()?.len() == 3)
                .then_some(())
        },
    );
    // destroy ends the dnsmasq this test started; reap it.
    let r = c.destroy();
    assert!(r.ok, "destroy: {}", r.stderr);
    let _ = ours.wait();
}
