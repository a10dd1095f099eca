//! The OS image under qemu (`mctl cluster create --provisioner qemu`): a
//! VM boots Debian's kernel with machined as PID 1 into maintenance mode,
//! takes its config, bootstraps etcd and holds the VIP, answering ping from
//! the LAN; `mctl reboot` brings it back with its config and etcd data;
//! `mctl processes` shows machined as PID 1 with its daemon and etcd below;
//! `mctl shutdown` powers it off; the image builds to the same bytes
//! twice; three VMs move the VIP when the holder is shut down (`mctl
//! shutdown`; powered on again with `mctl cluster start`, it rejoins) and
//! when the holder's qemu is killed; and a holder VM frozen whole and
//! thawed (its clock stopped with it) answers nothing for the VIP once
//! another VM took it, as a client on the LAN sees it. Bonds and VLANs:
//! `qemu_links.rs`.
//! KVM if a probe boot works, else TCG.

use machined_tests::cluster::{serial, Cluster};
use machined_tests::faults::VIP;
use machined_tests::netns::ip;
use machined_tests::trial::{self, Scenario};
use machined_tests::vm::gone;
use machined_tests::{require_root, wait_for, PATIENCE};
use std::time::Duration;

const NODE: &str = "10.5.0.11";
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
    let qemu_pid = c.vm_pid(0);
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

#[test]
fn three_vms_move_the_vip_when_the_holder_vm_shuts_down_or_is_killed() {
    if !require_root("qemu VMs") {
        return;
    }
    let _serial = serial();
    let mut c = Cluster::create("q3", &machined_tests::vm::THREE_VMS);
    let ips = ["10.5.0.11", "10.5.0.12", "10.5.0.13"];
    let shorts = ["cp1", "cp2", "cp3"];
    let h = one_holder(&c, &ips, "exactly one VM holding the VIP");
    wait_for("the VIP to answer ping", PATIENCE, || {
        c.ping(VIP).then_some(())
    });

    // `mctl shutdown` of the holder: it lets the VIP go, etcd stops, the
    // machine powers off; another VM takes the VIP.
    let pid = c.vm_pid(h);
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
    c.kill_vm(now);
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

    // The killed VM powered on again; then the holder's whole VM frozen on
    // qemu's monitor for 5 s and continued. Its clock stopped with it, so
    // its kernel still has the VIP at the thaw; from the LAN, an ARP
    // request every 10 ms: never two MACs for one request, never an answer
    // or a gratuitous ARP from it once another VM holds, and it lets go.
    c.boot_vm(now);
    let r = trial::run(&mut c, Scenario::Freeze, Duration::from_millis(10));
    eprintln!(
        "freeze: gap {:?}, {} ARP requests, {} answered, two MACs {}",
        r.gap, r.verdict.requests, r.verdict.answered, r.verdict.double
    );
    r.assert_one_voice("freeze", || c.logs());
    assert!(
        r.new_holder.is_some_and(|n| n != r.old_holder),
        "freeze: the VIP did not move ({:?})",
        r.new_holder
    );
    let r = c.destroy();
    assert!(r.ok, "destroy: {}", r.stderr);
}

/// The link the VIP is on at `node`, if it has it.
fn vip_link(c: &Cluster, node: &str) -> Option<String> {
    c.vip_held_on(node, VIP)
}
