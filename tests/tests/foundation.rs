//! Foundation acceptance: the real machined in a namespace, configured over
//! a real network by the real mctl from a client namespace (first apply in
//! maintenance mode, then with the admin client certificate).
//!
//! Layout: node ns `mgmt0` 10.200.0.1/24 <-> client ns `mgmt1` 10.200.0.2/24
//! (set by hand: the API path, and an address machined must leave alone);
//! node ns `eth0` <-> client ns `eth1` 10.201.0.2/24 (eth0 is configured by
//! machined).

use machined_tests::netns::{veth, Netns};
use machined_tests::node::{mctl, mctl_as, Machined, Run, Secrets, TempDir};
use machined_tests::{require_root, wait_for, PATIENCE};
use serde_json::Value;
use std::path::Path;

const NODE: &str = "10.200.0.1";

fn config(s: &Secrets, addr: &str) -> String {
    let network = format!(
        "hostname: node-1\ninterfaces:\n  - interface: eth0\n    addresses: [{addr}]\n    mtu: 1400\n  - interface: mgmt0\n    ignore: true\n"
    );
    s.config("controlplane", &network, None)
}

fn write(dir: &TempDir, name: &str, text: &str) -> String {
    let p = dir.0.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

fn addresses_json(client: &Netns, cfg: &Path) -> Vec<Value> {
    let r = mctl_as(client, cfg, &["-n", NODE, "get", "addresses", "-o", "json"]);
    assert!(r.ok, "mctl get addresses: {}", r.stderr);
    r.stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn has_status(client: &Netns, cfg: &Path, id: &str) -> bool {
    addresses_json(client, cfg)
        .iter()
        .any(|v| v["metadata"]["id"] == id && v["spec"]["ours"] == true)
}

fn applied_raw(client: &Netns, cfg: &Path) -> String {
    let r = mctl_as(
        client,
        cfg,
        &["-n", NODE, "get", "machineconfig", "-o", "json"],
    );
    assert!(r.ok, "{}", r.stderr);
    let v: Value = serde_json::from_str(r.stdout.trim()).expect("json");
    v["spec"]["raw"].as_str().unwrap_or_default().to_string()
}

fn expect_failure(r: &Run, needles: &[&str]) {
    assert!(!r.ok, "expected failure, got success: {}", r.stdout);
    for n in needles {
        assert!(r.stderr.contains(n), "stderr lacks {n:?}:\n{}", r.stderr);
    }
}

/// A lab with machined running in maintenance mode, and the cluster's
/// secrets and admin client config.
struct Started {
    dir: TempDir,
    node: Netns,
    client: Netns,
    secrets: Secrets,
    cfg: std::path::PathBuf,
    m: Machined,
}

fn start(tag: &str) -> Started {
    let dir = TempDir::new(tag);
    let (node, client) = lab();
    let secrets = Secrets::generate(&dir, "foundation", "https://10.201.0.50:6443");
    let cfg = secrets.mctlconfig();
    let m = Machined::start(&node, &dir);
    m.wait_ready(&client, NODE);
    Started {
        dir,
        node,
        client,
        secrets,
        cfg,
        m,
    }
}

/// Node and client namespaces with the management and data links.
fn lab() -> (Netns, Netns) {
    let node = Netns::new("node");
    let client = Netns::new("client");
    veth(&node, "mgmt0", &client, "mgmt1");
    veth(&node, "eth0", &client, "eth1");
    node.ip(&["addr", "add", "10.200.0.1/24", "dev", "mgmt0"]);
    node.ip(&["link", "set", "mgmt0", "up"]);
    client.ip(&["addr", "add", "10.200.0.2/24", "dev", "mgmt1"]);
    client.ip(&["link", "set", "mgmt1", "up"]);
    client.ip(&["addr", "add", "10.201.0.2/24", "dev", "eth1"]);
    client.ip(&["link", "set", "eth1", "up"]);
    (node, client)
}

#[test]
fn static_addresses_through_mctl_survive_restart_and_hand_made_ones_are_left_alone() {
    if !require_root("foundation") {
        return;
    }
    let Started {
        dir,
        node,
        client,
        secrets,
        cfg,
        mut m,
    } = start("foundation");

    // Apply in maintenance mode: eth0 comes up with the address, reachable
    // from the client.
    let first = write(&dir, "first.yaml", &config(&secrets, "10.201.0.1/24"));
    let r = mctl(
        &client,
        &["--insecure", "-n", NODE, "apply-config", "-f", &first],
    );
    assert!(r.ok, "apply: {}", r.stderr);
    assert!(r.stdout.contains("config applied"), "{}", r.stdout);
    wait_for("10.201.0.1 on eth0", PATIENCE, || {
        node.addrs("eth0").contains("10.201.0.1/24").then_some(())
    });
    // The MTU is set by another controller than the address: wait for it too.
    wait_for("mtu 1400 on eth0", PATIENCE, || {
        node.addrs("eth0").contains("mtu 1400").then_some(())
    });
    m.wait_ready_as(&client, NODE, &cfg);
    wait_for("AddressStatus for eth0/10.201.0.1/24", PATIENCE, || {
        has_status(&client, &cfg, "eth0/10.201.0.1/24").then_some(())
    });
    wait_for("ping 10.201.0.1 from the client", PATIENCE, || {
        client.ping("10.201.0.1").then_some(())
    });

    // A hand-made address on the configured link stays through changes.
    node.ip(&["addr", "add", "10.201.0.99/24", "dev", "eth0"]);

    // Change: the old address goes, the new one comes.
    let second = write(&dir, "second.yaml", &config(&secrets, "10.201.0.5/24"));
    let r = mctl_as(&client, &cfg, &["-n", NODE, "apply-config", "-f", &second]);
    assert!(r.ok, "apply: {}", r.stderr);
    wait_for("address swap", PATIENCE, || {
        let a = node.addrs("eth0");
        (a.contains("10.201.0.5/24") && !a.contains("10.201.0.1/24")).then_some(())
    });
    assert!(
        node.addrs("eth0").contains("10.201.0.99/24"),
        "hand-made address removed"
    );
    assert!(
        node.addrs("mgmt0").contains("10.200.0.1/24"),
        "mgmt address removed"
    );
    let st = addresses_json(&client, &cfg);
    assert!(
        st.iter()
            .any(|v| v["metadata"]["id"] == "eth0/10.201.0.99/24" && v["spec"]["ours"] == false),
        "hand-made address must show as not ours"
    );

    // Removed by hand: machined puts it back.
    node.ip(&["addr", "del", "10.201.0.5/24", "dev", "eth0"]);
    wait_for("address re-added", PATIENCE, || {
        node.addrs("eth0").contains("10.201.0.5/24").then_some(())
    });

    // Restart: config and address survive.
    assert!(
        m.restart(&node),
        "machined did not exit 0 on SIGTERM:\n{}",
        m.log()
    );
    m.wait_ready_as(&client, NODE, &cfg);
    assert!(applied_raw(&client, &cfg).contains("10.201.0.5/24"));
    wait_for("AddressStatus after restart", PATIENCE, || {
        has_status(&client, &cfg, "eth0/10.201.0.5/24").then_some(())
    });
    assert!(node.addrs("eth0").contains("10.201.0.5/24"));
    assert!(node.addrs("eth0").contains("10.201.0.99/24"));
    assert!(m.stop(), "machined did not exit 0 on SIGTERM:\n{}", m.log());
}

#[test]
fn bad_configs_are_refused_with_field_named_errors_and_change_nothing() {
    if !require_root("bad configs") {
        return;
    }
    let Started {
        dir,
        node,
        client,
        secrets,
        cfg,
        mut m,
    } = start("badconfig");

    // In maintenance mode too, a bad config is refused with every error.
    let bad = write(
        &dir,
        "bad.yaml",
        "version: v1alpha1\nmachine:\n  type: worker\n  network:\n    interfaces:\n      - interface: eth0\n        addresses: [10.201.0.300/24, 10.201.0.7/24]\n        vip:\n          ip: 10.201.0.50\n",
    );
    let want = [
        "machine.network.interfaces[0].addresses[0]",
        "not a valid CIDR",
        "machine.network.interfaces[0].vip.ip",
        "control-plane",
    ];
    expect_failure(
        &mctl(
            &client,
            &["--insecure", "-n", NODE, "apply-config", "-f", &bad],
        ),
        &want,
    );

    let good = write(&dir, "good.yaml", &config(&secrets, "10.201.0.1/24"));
    assert!(
        mctl(
            &client,
            &["--insecure", "-n", NODE, "apply-config", "-f", &good]
        )
        .ok
    );
    wait_for("address", PATIENCE, || {
        node.addrs("eth0").contains("10.201.0.1/24").then_some(())
    });
    m.wait_ready_as(&client, NODE, &cfg);
    let before_raw = applied_raw(&client, &cfg);
    let before_addrs = node.addrs("eth0");

    expect_failure(
        &mctl_as(&client, &cfg, &["-n", NODE, "apply-config", "-f", &bad]),
        &want,
    );
    let v = mctl(&client, &["validate", "-f", &bad]);
    expect_failure(&v, &want);
    assert_eq!(v.code, Some(1));
    assert!(mctl(&client, &["validate", "-f", &good]).ok);

    // Nothing changed on the node.
    assert_eq!(applied_raw(&client, &cfg), before_raw);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(node.addrs("eth0"), before_addrs);
    assert!(!node.addrs("eth0").contains("10.201.0.7"));

    // Other bad input: unknown type, unreachable node. One line, exit != 0.
    let r = mctl_as(&client, &cfg, &["-n", NODE, "get", "nosuchthing"]);
    expect_failure(&r, &["unknown resource type \"nosuchthing\""]);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    let r = mctl_as(&client, &cfg, &["-n", "10.200.0.3", "get", "links"]);
    expect_failure(&r, &["cannot connect"]);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert!(m.stop());
}

#[test]
fn a_multi_document_config_gives_the_node_its_address_and_name() {
    if !require_root("multi-document config") {
        return;
    }
    let Started {
        dir,
        node,
        client,
        secrets,
        cfg,
        mut m,
    } = start("multidoc");

    // Talos v1.12+ style: no machine.network, typed documents instead; the
    // link is named by an alternative name, as Talos allows.
    node.ip(&[
        "link",
        "property",
        "add",
        "dev",
        "eth0",
        "altname",
        "lan-uplink",
    ]);
    let base = secrets.config(
        "controlplane",
        "interfaces: [{interface: mgmt0, ignore: true}]",
        None,
    );
    let text = format!(
        "{base}---\napiVersion: v1alpha1\nkind: HostnameConfig\nhostname: doc-node\n---\n\
         apiVersion: v1alpha1\nkind: LinkConfig\nname: lan-uplink\nmtu: 1400\naddresses:\n  - address: 10.201.0.1/24\n"
    );
    let file = write(&dir, "multidoc.yaml", &text);
    let r = mctl(
        &client,
        &["--insecure", "-n", NODE, "apply-config", "-f", &file],
    );
    assert!(r.ok, "apply: {}", r.stderr);
    wait_for("10.201.0.1/24 and mtu 1400 on eth0", PATIENCE, || {
        let a = node.addrs("eth0");
        (a.contains("10.201.0.1/24") && a.contains("mtu 1400")).then_some(())
    });
    wait_for("ping 10.201.0.1 from the client", PATIENCE, || {
        client.ping("10.201.0.1").then_some(())
    });
    m.wait_ready_as(&client, NODE, &cfg);
    // The node's name (etcd member name, API certificate) is the document's.
    wait_for("EtcdSpec named doc-node", PATIENCE, || {
        let r = mctl_as(
            &client,
            &cfg,
            &["-n", NODE, "get", "etcdspec", "-o", "json"],
        );
        let v: Value = serde_json::from_str(r.stdout.trim()).ok()?;
        (v["spec"]["name"] == "doc-node").then_some(())
    });
    // The kernel's hostname, in the node's own UTS namespace; the host's
    // stays what it was.
    let host_before = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    wait_for("the node's hostname doc-node", PATIENCE, || {
        (m.hostname()? == "doc-node").then_some(())
    });
    let r = mctl_as(
        &client,
        &cfg,
        &["-n", NODE, "get", "hostname", "-o", "json"],
    );
    let v: Value = serde_json::from_str(r.stdout.trim()).expect("hostname json");
    assert_eq!(v["spec"]["hostname"], "doc-node", "{v}");
    assert_eq!(v["spec"]["source"], "config", "{v}");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default(),
        host_before
    );
    assert!(m.stop(), "machined did not exit 0 on SIGTERM:\n{}", m.log());
}

#[test]
fn static_routes_are_ours_to_add_and_remove_and_nobody_elses() {
    if !require_root("static routes") {
        return;
    }
    let Started {
        dir,
        node,
        client,
        secrets,
        cfg,
        mut m,
    } = start("routes");
    // A network only the client has: the node reaches it through the route.
    client.ip(&["addr", "add", "10.250.0.1/24", "dev", "eth1"]);
    let with_route = |routes: &str| {
        let network = format!(
            "interfaces:\n  - interface: eth0\n    addresses: [10.201.0.1/24]\n    routes: {routes}\n  - interface: mgmt0\n    ignore: true\n"
        );
        secrets.config("controlplane", &network, None)
    };
    let routed = write(
        &dir,
        "routed.yaml",
        &with_route("[{network: 10.250.0.0/24, gateway: 10.201.0.2, metric: 50}]"),
    );
    let r = mctl(
        &client,
        &["--insecure", "-n", NODE, "apply-config", "-f", &routed],
    );
    assert!(r.ok, "apply: {}", r.stderr);
    let ours = |ns: &Netns| ns.ip(&["route", "show", "proto", "109"]);
    wait_for("10.250.0.0/24 via 10.201.0.2, proto 109", PATIENCE, || {
        ours(&node)
            .contains("10.250.0.0/24 via 10.201.0.2 dev eth0")
            .then_some(())
    });
    wait_for(
        "ping 10.250.0.1 from the node, through the route",
        PATIENCE,
        || node.ping("10.250.0.1").then_some(()),
    );
    m.wait_ready_as(&client, NODE, &cfg);
    wait_for("RouteStatus of ours", PATIENCE, || {
        let r = mctl_as(&client, &cfg, &["-n", NODE, "get", "routes", "-o", "json"]);
        r.stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|v| v["spec"]["destination"] == "10.250.0.0/24" && v["spec"]["ours"] == true)
            .then_some(())
    });

    // Removed by hand: put back. A route added by hand: left alone.
    node.ip(&["route", "del", "10.250.0.0/24", "via", "10.201.0.2"]);
    wait_for("route re-added", PATIENCE, || {
        ours(&node).contains("10.250.0.0/24").then_some(())
    });
    node.ip(&[
        "route",
        "add",
        "10.251.0.0/24",
        "via",
        "10.201.0.2",
        "dev",
        "eth0",
    ]);

    // Dropped from the config: ours goes, the hand-made one stays.
    let plain = write(&dir, "plain.yaml", &with_route("[]"));
    let r = mctl_as(&client, &cfg, &["-n", NODE, "apply-config", "-f", &plain]);
    assert!(r.ok, "apply: {}", r.stderr);
    wait_for("our route removed", PATIENCE, || {
        (!ours(&node).contains("10.250.0.0/24")).then_some(())
    });
    let all = node.ip(&["route", "show"]);
    assert!(
        all.contains("10.251.0.0/24 via 10.201.0.2"),
        "hand-made route removed:\n{all}"
    );
    assert!(
        all.contains("10.201.0.0/24 dev eth0"),
        "kernel route removed:\n{all}"
    );
    assert!(m.stop(), "machined did not exit 0 on SIGTERM:\n{}", m.log());
}

#[test]
fn apply_modes_try_rolls_back_edit_applies_staged_waits_dry_run_shows_the_diff() {
    if !require_root("apply modes") {
        return;
    }
    let Started {
        dir,
        node,
        client,
        secrets,
        cfg,
        mut m,
    } = start("modes");
    let good = write(&dir, "good.yaml", &config(&secrets, "10.201.0.1/24"));
    assert!(
        mctl(
            &client,
            &["--insecure", "-n", NODE, "apply-config", "-f", &good]
        )
        .ok
    );
    wait_for("ping 10.201.0.1", PATIENCE, || {
        client.ping("10.201.0.1").then_some(())
    });
    m.wait_ready_as(&client, NODE, &cfg);

    // A change that cuts the client off, tried for 3 s: in effect, then
    // rolled back by the node itself.
    let cut = write(&dir, "cut.yaml", &config(&secrets, "10.202.0.1/24"));
    let apply = |file: &str, extra: &[&str]| {
        let mut args = vec!["-n", NODE, "apply-config", "-f", file];
        args.extend_from_slice(extra);
        mctl_as(&client, &cfg, &args)
    };
    // Dry run: the diff, and nothing changes.
    let r = apply(&cut, &["--dry-run"]);
    assert!(r.ok, "{}", r.stderr);
    assert!(
        r.stdout.contains("-      - 10.201.0.1/24") && r.stdout.contains("+      - 10.202.0.1/24"),
        "{}",
        r.stdout
    );
    assert!(node.addrs("eth0").contains("10.201.0.1/24"));

    let r = apply(&cut, &["--mode", "try", "--timeout", "3s"]);
    assert!(
        r.ok && r.stdout.contains("rolls back"),
        "{} {}",
        r.stdout,
        r.stderr
    );
    wait_for("the tried address in effect", PATIENCE, || {
        node.addrs("eth0").contains("10.202.0.1/24").then_some(())
    });
    assert!(
        !client.ping("10.201.0.1"),
        "the tried config should cut the client off"
    );
    wait_for("rolled back to 10.201.0.1", PATIENCE, || {
        let a = node.addrs("eth0");
        (a.contains("10.201.0.1/24") && !a.contains("10.202.0.1/24")).then_some(())
    });
    wait_for("ping 10.201.0.1 again", PATIENCE, || {
        client.ping("10.201.0.1").then_some(())
    });

    // Edit in $EDITOR (here a sed script): the edited config is applied.
    let mctl_bin = machined_tests::bins::mctl();
    let cfg_s = cfg.to_string_lossy();
    let out = client.exec(
        "env",
        &[
            "EDITOR=sed -i s#10.201.0.1/24#10.201.0.3/24#",
            &mctl_bin.to_string_lossy(),
            "--mctlconfig",
            &cfg_s,
            "-n",
            NODE,
            "edit",
            "mc",
        ],
    );
    let r: Run = out.into();
    assert!(
        r.ok && r.stdout.contains("config applied"),
        "{} {}",
        r.stdout,
        r.stderr
    );
    wait_for("the edited address", PATIENCE, || {
        let a = node.addrs("eth0");
        (a.contains("10.201.0.3/24") && !a.contains("10.201.0.1/24")).then_some(())
    });

    // Staged: nothing now, in effect after a restart.
    let staged = write(&dir, "staged.yaml", &config(&secrets, "10.201.0.7/24"));
    let r = apply(&staged, &["--mode", "staged"]);
    assert!(
        r.ok && r.stdout.contains("next start"),
        "{} {}",
        r.stdout,
        r.stderr
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(node.addrs("eth0").contains("10.201.0.3/24"));
    assert!(!node.addrs("eth0").contains("10.201.0.7/24"));
    assert!(m.restart(&node), "restart:\n{}", m.log());
    wait_for("the staged address after restart", PATIENCE, || {
        let a = node.addrs("eth0");
        (a.contains("10.201.0.7/24") && !a.contains("10.201.0.3/24")).then_some(())
    });
    assert!(m.stop(), "machined did not exit 0 on SIGTERM:\n{}", m.log());
}
