//! Links of the OS image under qemu: a VIP on an active-backup bond of two
//! cards survives the loss of the active one (with failOverMac: active, the
//! holder announces the VIP at the bond's new MAC and the LAN follows); a
//! VIP on a VLAN of the bond answers a VLAN interface in the LAN namespace
//! (tagged in user space by the harness: this host's kernel has no 8021q)
//! before and after the failover; the ACPI power button powers the VM off.

use machined_tests::cluster::{serial, Cluster};
use machined_tests::faults::VIP;
use machined_tests::netns::ip;
use machined_tests::vlan_port::VlanPort;
use machined_tests::vm::gone;
use machined_tests::{require_root, wait_for, PATIENCE};
use std::time::Duration;

const NODE: &str = "10.5.0.11";
/// The VIP of VLAN 100.
const VLAN_VIP: &str = "10.100.0.50";
/// A VM's boot under TCG plus etcd's start.
const BOOT: Duration = Duration::from_secs(120);

/// The link the VIP is on at `node`, if it has it.
fn vip_link(c: &Cluster, node: &str) -> Option<String> {
    c.vip_held_on(node, VIP)
}

#[test]
fn a_vip_on_an_active_backup_bond_survives_the_loss_of_the_active_member() {
    if !require_root("qemu VM with a bond") {
        return;
    }
    let _serial = serial();
    let c = Cluster::create(
        "qb",
        &[
            "--provisioner",
            "qemu",
            "--controlplanes",
            "1",
            "--nics",
            "2",
        ],
    );
    // The node's address and VIP move from eth0 to bond0 (eth0 + eth1,
    // active-backup, eth0 primary).
    let path = c.node_dir("cp1").join("config.yaml");
    let text = std::fs::read_to_string(&path).expect("node config");
    let mut v: yaml_serde::Value = yaml_serde::from_str(&text).expect("yaml");
    let bond: yaml_serde::Value = yaml_serde::from_str(&format!(
        "- interface: bond0\n  addresses: [{NODE}/24]\n  vip: {{ip: {VIP}}}\n  bond: {{interfaces: [eth0, eth1], mode: active-backup, miimon: 100, primary: eth0, failOverMac: active}}\n  vlans: [{{vlanId: 100, addresses: [10.100.0.11/24], vip: {{ip: {VLAN_VIP}}}}}]\n"
    ))
    .expect("bond yaml");
    v["machine"]["network"]["interfaces"] = bond;
    let bonded = c.dir.0.join("bonded.yaml");
    std::fs::write(&bonded, yaml_serde::to_string(&v).expect("yaml")).expect("write");
    let r = c.mctl(&["-n", NODE, "apply-config", "-f", &bonded.to_string_lossy()]);
    assert!(r.ok, "apply the bond: {}", r.stderr);
    wait_for("the VIP on bond0", BOOT, || {
        (vip_link(&c, NODE)? == "bond0").then_some(())
    });
    wait_for("the VIP to answer ping over the bond", PATIENCE, || {
        c.ping(VIP).then_some(())
    });
    let links = c.mctl(&["-n", NODE, "get", "links", "-o", "json"]).stdout;
    let kind_of = |name: &str| {
        links.lines().find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            (v["metadata"]["id"] == name)
                .then(|| v["spec"]["kind"].as_str().unwrap_or_default().to_string())
        })
    };
    assert_eq!(kind_of("bond0").as_deref(), Some("bond"), "{links}");
    // A VLAN on the bond, created inside the VM with its address and a VIP
    // of its own, reached from a VLAN 100 interface in the LAN namespace
    // (user-space tagging: this host's kernel has no 8021q).
    wait_for("VLAN bond0.100 with 10.100.0.11", PATIENCE, || {
        let links = c
            .mctl(&["-n", NODE, "get", "links", "bond0.100", "-o", "json"])
            .stdout;
        let v: serde_json::Value = serde_json::from_str(links.lines().next()?).ok()?;
        let addrs = c
            .mctl(&["-n", NODE, "get", "addresses", "-o", "json"])
            .stdout;
        (v["spec"]["kind"] == "vlan" && addrs.contains("10.100.0.11/24")).then_some(())
    });
    wait_for("the VLAN's VIP on bond0.100", BOOT, || {
        (c.vip_held_on(NODE, VLAN_VIP)? == "bond0.100").then_some(())
    });
    let lan = c.lan();
    let _port = VlanPort::start(&lan, "br0", "lan100", 100).expect("VLAN 100 in the LAN");
    ip(&["-n", &lan, "addr", "add", "10.100.0.1/24", "dev", "lan100"]);
    wait_for(
        "the VLAN's VIP to answer ping from VLAN 100",
        PATIENCE,
        || c.ping(VLAN_VIP).then_some(()),
    );
    let vlan_neigh = || {
        let _ = c.ping(VLAN_VIP);
        let v: serde_json::Value = serde_json::from_str(&ip(&[
            "-n", &lan, "-j", "neigh", "show", VLAN_VIP, "dev", "lan100",
        ]))
        .ok()?;
        v[0]["lladdr"].as_str().map(String::from)
    };

    // The active member loses its carrier: the bond goes on over eth1, and
    // with failOverMac: active it takes eth1's MAC; the holder announces
    // the VIP at the new one.
    let bond_mac = || {
        let r = c.mctl(&["-n", NODE, "get", "links", "bond0", "-o", "json"]);
        serde_json::from_str::<serde_json::Value>(r.stdout.lines().next().unwrap_or_default())
            .ok()
            .and_then(|v| v["spec"]["hardwareAddr"].as_str().map(String::from))
            .unwrap_or_default()
    };
    let frames = || {
        c.get_json(NODE, "announcestatus")
            .map_or(0, |v| v["spec"]["frames"].as_u64().unwrap_or(0))
    };
    let mac_before = bond_mac();
    assert_eq!(
        vlan_neigh().as_deref(),
        Some(mac_before.as_str()),
        "VLAN 100's entry for its VIP is not the bond's MAC"
    );
    let frames_before = frames();
    c.monitor("cp1", "set_link n0 off");
    wait_for("eth0 down inside the VM", PATIENCE, || {
        let r = c.mctl(&["-n", NODE, "get", "links", "eth0", "-o", "json"]);
        let v: serde_json::Value = serde_json::from_str(r.stdout.lines().next()?).ok()?;
        (v["spec"]["operState"] != "up").then_some(())
    });
    wait_for(
        "the VIP to answer ping after the failover",
        PATIENCE,
        || c.ping(VIP).then_some(()),
    );
    assert_eq!(vip_link(&c, NODE).as_deref(), Some("bond0"));
    let mac_after = wait_for("bond0 on eth1's MAC", PATIENCE, || {
        let m = bond_mac();
        (!m.is_empty() && m != mac_before).then_some(m)
    });
    wait_for("the VIP announced again", PATIENCE, || {
        (frames() > frames_before).then_some(())
    });
    // ...because of the MAC change, not a periodic refresh: the holder says so.
    wait_for("the holder following the new MAC", PATIENCE, || {
        let r = c.mctl(&["-n", NODE, "logs", "machined"]);
        r.stdout
            .contains("the link's MAC changed; announcing again")
            .then_some(())
    });
    wait_for(
        "the LAN's entry for the VIP at the new MAC",
        PATIENCE,
        || {
            let _ = c.ping(VIP);
            let v: serde_json::Value = serde_json::from_str(&machined_tests::netns::ip(&[
                "-n",
                &c.lan(),
                "-j",
                "neigh",
                "show",
                VIP,
            ]))
            .ok()?;
            (v[0]["lladdr"].as_str()? == mac_after).then_some(())
        },
    );
    for _ in 0..5 {
        assert!(
            c.ping(VIP),
            "the VIP stopped answering over the remaining member"
        );
    }
    // The VLAN on the bond follows its MAC; its VIP answers at the new one.
    wait_for(
        "VLAN 100's entry for its VIP at the new MAC",
        PATIENCE,
        || (vlan_neigh()? == mac_after).then_some(()),
    );
    assert!(c.ping(VLAN_VIP), "the VLAN's VIP stopped answering");

    // The ACPI power button (qemu's system_powerdown): a clean power-off.
    let qemu_pid = c.record["nodes"][0]["pid"].as_u64().expect("qemu pid") as i32;
    c.monitor("cp1", "system_powerdown");
    wait_for("qemu to exit after the power button", PATIENCE, || {
        gone(qemu_pid).then_some(())
    });
    let console =
        std::fs::read_to_string(c.node_dir("cp1").join("console.log")).unwrap_or_default();
    assert!(
        console.contains("power button pressed") && console.contains("RB_POWER_OFF"),
        "{console}"
    );
    let r = c.destroy();
    assert!(r.ok, "destroy: {}", r.stderr);
}
