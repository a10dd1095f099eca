//! The OS image under qemu (`mctl cluster create --provisioner qemu`): a
//! VM boots Debian's kernel with machined as PID 1 into maintenance mode,
//! takes its config, bootstraps etcd and holds the VIP, answering ping from
//! the LAN; `mctl reboot` brings it back with its config and etcd data;
//! `mctl processes` shows machined as PID 1 with its daemon and etcd below;
//! `mctl shutdown` powers it off; the image builds to the same bytes
//! twice; three VMs move the VIP when the holder is shut down (`mctl
//! shutdown`; powered on again with `mctl cluster start`, it rejoins) and
//! when the holder's qemu is killed; a VIP on
//! an active-backup bond of two cards survives the loss of the active one
//! (with failOverMac: active, the holder announces the VIP at the bond's
//! new MAC and the LAN follows), and a VIP on a VLAN of the bond answers a
//! VLAN interface in the LAN namespace (tagged in user space by the harness:
//! this host's kernel has no 8021q) before and after the failover; the
//! ACPI power button powers a VM off.
//! KVM if a probe boot works, else TCG.

use machined_tests::cluster::{serial, Cluster};
use machined_tests::faults::VIP;
use machined_tests::netns::ip;
use machined_tests::vlan_port::VlanPort;
use machined_tests::vm::gone;
use machined_tests::{require_root, wait_for, PATIENCE};
use std::time::Duration;

const NODE: &str = "10.5.0.11";
/// The VIP of VLAN 100 in the bond test.
const VLAN_VIP: &str = "10.100.0.50";
/// A VM's boot under TCG plus etcd's start.
const BOOT: Duration = Duration::from_secs(120);

fn member_id(c: &Cluster) -> Option<String> {
    let st = c.get_json(NODE, "etcdstatus")?;
    (st["spec"]["phase"] == "running")
        .then(|| {
            st["spec"]["memberId"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .filter(|id| !id.is_empty())
}

fn boots(c: &Cluster) -> usize {
    std::fs::read_to_string(c.node_dir("cp1").join("console.log"))
        .unwrap_or_default()
        .matches("machined[init]: daemon started")
        .count()
}

#[test]
fn a_vm_boots_the_image_holds_the_vip_reboots_with_its_data_and_powers_off() {
    if !require_root("qemu VM") {
        return;
    }
    let _serial = serial();
    let c = Cluster::create("qm", &["--provisioner", "qemu", "--controlplanes", "1"]);
    let qemu_pid = c.record["nodes"][0]["pid"].as_u64().expect("qemu pid") as i32;
    assert_eq!(c.record["nodes"][0]["vm"], true);
    let console =
        std::fs::read_to_string(c.node_dir("cp1").join("console.log")).unwrap_or_default();
    for line in [
        "module 8021q loaded",
        "module bonding loaded",
        "state disk is blank: formatting it",
        "state disk mounted on /var",
    ] {
        assert!(console.contains(line), "console lacks {line:?}:\n{console}");
    }
    wait_for("the VIP to answer ping from the LAN", PATIENCE, || {
        c.ping(VIP).then_some(())
    });
    // The machine's own hostname, set by machined as PID 1.
    let h = c.get_json(NODE, "hostname").expect("hostname status");
    assert_eq!(h["spec"]["hostname"], format!("{}-cp1", c.name), "{h}");
    // Nothing writable but the state disk and tmpfs: the root is read-only.
    assert!(!console.contains("making / read-only"), "{console}");
    let id = member_id(&c).expect("etcd running");
    // `mctl processes`: machined is PID 1, its daemon a child of it, and
    // etcd the daemon's child.
    let ps = c.processes(NODE);
    let find = |f: &dyn Fn(&serde_json::Value) -> bool| ps.iter().find(|p| f(p)).cloned();
    let init = find(&|p| p["pid"] == 1).expect("PID 1 listed");
    assert_eq!(init["args"], "/init", "{init}");
    let daemon = find(&|p| p["ppid"] == 1 && p["args"] == "/init").expect("machined's daemon");
    let etcd = find(&|p| p["command"] == "etcd").expect("etcd listed");
    assert_eq!(etcd["ppid"], daemon["pid"], "{etcd}");
    let u = c.vm_usage()[0].1.expect("usage");
    assert!(u.init_kib > 0 && u.daemon_kib > 0, "{u:?}");
    eprintln!(
        "resident: PID 1 {} KiB, daemon {} KiB",
        u.init_kib, u.daemon_kib
    );

    let r = c.mctl(&["-n", NODE, "reboot"]);
    assert!(r.ok, "reboot: {}", r.stderr);
    wait_for("a second boot", BOOT, || (boots(&c) == 2).then_some(()));
    let again = wait_for("etcd running after the reboot", BOOT, || member_id(&c));
    assert_eq!(
        again, id,
        "etcd came back as another member: its data was lost"
    );
    let console =
        std::fs::read_to_string(c.node_dir("cp1").join("console.log")).unwrap_or_default();
    assert_eq!(
        console.matches("formatting it").count(),
        1,
        "the state disk was formatted twice"
    );
    assert!(
        c.get_json(NODE, "machineconfig").is_some(),
        "the config did not survive"
    );
    wait_for("the VIP after the reboot", BOOT, || {
        c.ping(VIP).then_some(())
    });

    let r = c.mctl(&["-n", NODE, "shutdown"]);
    assert!(r.ok, "shutdown: {}", r.stderr);
    wait_for("qemu to exit (powered off)", PATIENCE, || {
        gone(qemu_pid).then_some(())
    });
    let console =
        std::fs::read_to_string(c.node_dir("cp1").join("console.log")).unwrap_or_default();
    assert!(console.contains("RB_POWER_OFF"), "{console}");

    // The image is reproducible: built again, the same bytes.
    let again = c.dir.0.join("image-again");
    let out = std::process::Command::new(machined_tests::bins::mctl())
        .args(["image", "build", "--machined"])
        .arg(machined_tests::bins::machined())
        .arg("--out")
        .arg(&again)
        .output()
        .expect("mctl image build");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = c.dir.0.join(&c.name).join("image");
    for f in ["vmlinuz", "initramfs.img"] {
        let a = std::fs::read(first.join(f)).expect("first image");
        let b = std::fs::read(again.join(f)).expect("second image");
        assert!(
            a == b,
            "{f} differs between two builds from the same inputs"
        );
    }

    let r = c.destroy();
    assert!(r.ok, "destroy: {}", r.stderr);
    assert!(
        !ip(&["netns", "list"]).contains(&c.lan()),
        "the LAN namespace is left"
    );
}

/// The VMs whose kernel has the VIP, as each VM's machined reads it from
/// netlink inside the VM (AddressStatus): unreachable VMs count as none.
fn holders(c: &Cluster, ips: &[&str]) -> Vec<usize> {
    (0..ips.len())
        .filter(|i| vip_link(c, ips[*i]).is_some())
        .collect()
}

/// The one VM among `ips` with the VIP, once there is exactly one.
fn one_holder(c: &Cluster, ips: &[&str], what: &str) -> usize {
    wait_for(what, BOOT, || {
        let hs = holders(c, ips);
        (hs.len() == 1).then(|| hs[0])
    })
}

fn qemu_pid(c: &Cluster, i: usize) -> i32 {
    c.record["nodes"][i]["pid"].as_u64().expect("qemu pid") as i32
}

#[test]
fn three_vms_move_the_vip_when_the_holder_vm_shuts_down_or_is_killed() {
    if !require_root("qemu VMs") {
        return;
    }
    let _serial = serial();
    let mut c = Cluster::create(
        "q3",
        &[
            "--provisioner",
            "qemu",
            "--controlplanes",
            "3",
            "--memory",
            "768",
        ],
    );
    let ips = ["10.5.0.11", "10.5.0.12", "10.5.0.13"];
    let shorts = ["cp1", "cp2", "cp3"];
    let h = one_holder(&c, &ips, "exactly one VM holding the VIP");
    wait_for("the VIP to answer ping", PATIENCE, || {
        c.ping(VIP).then_some(())
    });

    // `mctl shutdown` of the holder: it lets the VIP go, etcd stops, the
    // machine powers off; another VM takes the VIP.
    let pid = qemu_pid(&c, h);
    let r = c.mctl(&["-n", ips[h], "shutdown"]);
    assert!(r.ok, "shutdown: {}{}", r.stdout, r.stderr);
    let others: Vec<&str> = (0..3).filter(|i| *i != h).map(|i| ips[i]).collect();
    let next = one_holder(&c, &others, "another VM holding the VIP after the shutdown");
    wait_for("the holder's qemu to exit", BOOT, || {
        gone(pid).then_some(())
    });
    wait_for(
        "the VIP to answer ping after the shutdown",
        PATIENCE,
        || c.ping(VIP).then_some(()),
    );
    assert!(holders(&c, &others).len() <= 1, "two holders");
    eprintln!(
        "VIP moved from {} to {} after mctl shutdown",
        ips[h], others[next]
    );

    // Powered on again from its disk, it rejoins with its config and etcd
    // data, and does not take the VIP back.
    let r = c.power_on(shorts[h]);
    assert!(r.ok, "cluster start: {}{}", r.stdout, r.stderr);
    wait_for("etcd with 3 members on the restarted VM", BOOT, || {
        let st = c.get_json(ips[h], "etcdstatus")?;
        (st["spec"]["phase"] == "running"
            && st["spec"]["members"].as_array().map_or(0, Vec::len) == 3)
            .then_some(())
    });
    let now = one_holder(&c, &ips, "one holder with all three VMs up");
    assert_eq!(ips[now], others[next], "the VIP moved back without a fault");

    // kill -9 of the holder's qemu: the machine dies at once, no release,
    // no resign.
    let pid = qemu_pid(&c, now);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill qemu");
    let rest: Vec<&str> = (0..3).filter(|i| *i != now).map(|i| ips[i]).collect();
    let last = one_holder(&c, &rest, "another VM holding the VIP after kill -9");
    wait_for("the VIP to answer ping again", PATIENCE, || {
        c.ping(VIP).then_some(())
    });
    // Never two holders among the live VMs afterwards either.
    for _ in 0..5 {
        assert!(holders(&c, &rest).len() <= 1, "two holders");
    }
    eprintln!(
        "VIP moved from {} to {} after kill -9 of its VM",
        ips[now], rest[last]
    );
    let r = c.destroy();
    assert!(r.ok, "destroy: {}", r.stderr);
}

/// The link the VIP is on at `node`, if it has it.
fn vip_link(c: &Cluster, node: &str) -> Option<String> {
    link_of(c, node, VIP)
}

/// The link `addr` (a /32) is on at `node`, if it has it.
fn link_of(c: &Cluster, node: &str, addr: &str) -> Option<String> {
    let r = c.mctl(&["-n", node, "get", "addresses", "-o", "json"]);
    r.stdout.lines().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        (v["spec"]["address"] == format!("{addr}/32"))
            .then(|| v["spec"]["link"].as_str().unwrap_or_default().to_string())
    })
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
    let mut v: serde_yaml::Value = serde_yaml::from_str(&text).expect("yaml");
    let bond: serde_yaml::Value = serde_yaml::from_str(&format!(
        "- interface: bond0\n  addresses: [{NODE}/24]\n  vip: {{ip: {VIP}}}\n  bond: {{interfaces: [eth0, eth1], mode: active-backup, miimon: 100, primary: eth0, failOverMac: active}}\n  vlans: [{{vlanId: 100, addresses: [10.100.0.11/24], vip: {{ip: {VLAN_VIP}}}}}]\n"
    ))
    .expect("bond yaml");
    v["machine"]["network"]["interfaces"] = bond;
    let bonded = c.dir.0.join("bonded.yaml");
    std::fs::write(&bonded, serde_yaml::to_string(&v).expect("yaml")).expect("write");
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
        (link_of(&c, NODE, VLAN_VIP)? == "bond0.100").then_some(())
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
