//! etcd lifecycle with real etcd and real machined: bootstrap, join,
//! refusals, restarts, membership kept across a machined restart, external
//! etcd, and `mctl cluster create/destroy` leaving nothing behind.

use machined_tests::cluster::{pids_named, serial, Cluster};
use machined_tests::netns::{veth, Netns};
use machined_tests::node::{mctl, mctl_as, Machined, Secrets, TempDir};
use machined_tests::process::Proc;
use machined_tests::{require_root, wait_for, PATIENCE};
use std::time::Duration;

const CPS: [&str; 3] = ["10.5.0.11", "10.5.0.12", "10.5.0.13"];
const WORKER: &str = "10.5.0.21";

/// `etcdctl` from the LAN against cp1's etcd, with cp1's certificate (or none).
fn etcdctl(c: &Cluster, with_cert: bool, args: &[&str]) -> std::process::Output {
    let pki = c.node_dir("cp1").join("state/etcd/pki");
    let p = |f: &str| pki.join(f).to_string_lossy().into_owned();
    let mut a = vec![
        "netns".to_string(),
        "exec".into(),
        c.lan(),
        "etcdctl".into(),
        "--endpoints".into(),
        "https://10.5.0.11:2379".into(),
        "--cacert".into(),
        p("ca.pem"),
        "--dial-timeout".into(),
        "3s".into(),
    ];
    if with_cert {
        a.extend([
            "--cert".into(),
            p("server.pem"),
            "--key".into(),
            p("server-key.pem"),
        ]);
    }
    a.extend(args.iter().map(|s| s.to_string()));
    std::process::Command::new("ip")
        .args(&a)
        .output()
        .expect("etcdctl")
}

fn member_names(c: &Cluster) -> Vec<String> {
    let out = etcdctl(c, true, &["member", "list"]);
    assert!(
        out.status.success(),
        "etcdctl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(", started, "))
        .filter_map(|l| l.split(", ").nth(2).map(String::from))
        .collect();
    names.sort();
    names
}

fn running_with(c: &Cluster, node: &str, members: usize) -> bool {
    c.get_json(node, "etcdstatus").is_some_and(|v| {
        v["spec"]["phase"] == "running"
            && v["spec"]["members"].as_array().map_or(0, Vec::len) == members
    })
}

#[test]
fn three_control_planes_and_a_worker() {
    if !require_root("etcd cluster") {
        return;
    }
    let _serial = serial();
    let c = Cluster::create("e", &["--controlplanes", "3", "--workers", "1"]);
    let n = &c.name;

    // etcd speaks TLS only, and refuses a client without a certificate.
    let r = etcdctl(&c, false, &["member", "list"]);
    assert!(
        !r.status.success(),
        "etcd answered a client without a certificate"
    );
    // All three are started members, seen by etcdctl and by each node.
    assert_eq!(
        member_names(&c),
        vec![format!("{n}-cp1"), format!("{n}-cp2"), format!("{n}-cp3")]
    );
    for ip in CPS {
        assert!(
            running_with(&c, ip, 3),
            "{ip} not running with 3 members\n{}",
            c.logs()
        );
    }

    // A worker runs no etcd and has no EtcdStatus.
    assert!(
        pids_named(&format!("{n}-w1"), "etcd").is_empty(),
        "worker runs etcd"
    );
    assert!(c.get_json(WORKER, "etcdstatus").is_none());
    let r = c.mctl(&["-n", WORKER, "bootstrap"]);
    assert!(!r.ok && r.stderr.contains("worker"), "{}", r.stderr);

    // A second bootstrap is refused, on the first node and on a joined one.
    let r = c.mctl(&["-n", CPS[0], "bootstrap"]);
    assert!(
        !r.ok && r.stderr.contains("already bootstrapped"),
        "{}",
        r.stderr
    );
    let r = c.mctl(&["-n", CPS[1], "bootstrap"]);
    assert!(!r.ok && r.stderr.contains("already"), "{}", r.stderr);

    // etcd killed: machined restarts it.
    let cp2 = format!("{n}-cp2");
    let old = pids_named(&cp2, "etcd");
    assert_eq!(old.len(), 1, "one etcd on cp2");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(old[0] as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_for("etcd restarted on cp2", PATIENCE, || {
        let now = pids_named(&cp2, "etcd");
        (now.len() == 1 && now != old).then_some(())
    });
    wait_for("cp2 healthy again", PATIENCE, || {
        c.get_json(CPS[1], "etcdstatus").filter(|v| {
            v["spec"]["phase"] == "running" && v["spec"]["restarts"].as_u64() >= Some(1)
        })
    });

    // machined stopped and started on cp3: same member, still three.
    wait_for("cp3 running", PATIENCE, || {
        running_with(&c, CPS[2], 3).then_some(())
    });
    let before = c.get_json(CPS[2], "etcdstatus").expect("status")["spec"]["memberId"].clone();
    assert_ne!(before, "", "a running member reports its id");
    let pid = c.record["nodes"][2]["pid"].as_u64().expect("cp3 pid") as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let cp3 = format!("{n}-cp3");
    wait_for("cp3 machined and etcd gone", PATIENCE, || {
        (pids_named(&cp3, "machined").is_empty() && pids_named(&cp3, "etcd").is_empty())
            .then_some(())
    });
    let state = c.node_dir("cp3").join("state");
    let ns = Netns::borrowed(&cp3);
    let mut again = Proc::spawn_in(
        &ns,
        &machined_tests::bins::machined(),
        &[
            "--state-dir",
            &state.to_string_lossy(),
            "--listen",
            "0.0.0.0:50000",
        ],
        &c.node_dir("cp3").join("machined.log"),
    );
    wait_for("cp3 running again", Duration::from_secs(60), || {
        running_with(&c, CPS[2], 3).then_some(())
    });
    let after = c.get_json(CPS[2], "etcdstatus").expect("status")["spec"]["memberId"].clone();
    assert_eq!(before, after, "member id changed across a machined restart");
    assert_eq!(member_names(&c).len(), 3);
    again.stop(Duration::from_secs(20));

    // destroy leaves nothing behind.
    let r = c.destroy();
    assert!(r.ok, "destroy: {}", r.stderr);
    let left = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let left = String::from_utf8_lossy(&left.stdout);
    assert!(
        !left.lines().any(|l| l.starts_with(&format!("{n}-"))),
        "namespaces left: {left}"
    );
    for n in c.record["nodes"].as_array().unwrap() {
        let pid = n["pid"].as_u64().unwrap();
        let alive = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|s| s.contains("machined"));
        assert!(!alive, "machined {pid} still running");
    }
    assert!(!c.dir.0.join(&c.name).exists(), "cluster dir left");
}

fn two_namespaces(tag: &str) -> (Netns, Netns) {
    let node = Netns::new(&format!("{tag}n"));
    let other = Netns::new(&format!("{tag}o"));
    veth(&node, "eth0", &other, "eth1");
    node.ip(&["addr", "add", "10.6.0.11/24", "dev", "eth0"]);
    node.ip(&["link", "set", "eth0", "up"]);
    other.ip(&["addr", "add", "10.6.0.2/24", "dev", "eth1"]);
    other.ip(&["link", "set", "eth1", "up"]);
    (node, other)
}

#[test]
fn bootstrap_is_refused_before_a_config_is_applied() {
    if !require_root("bootstrap before config") {
        return;
    }
    let dir = TempDir::new("noconfig");
    let (node, client) = two_namespaces("nc");
    let mut m = Machined::start(&node, &dir);
    m.wait_ready(&client, "10.6.0.11");
    let r = mctl(&client, &["--insecure", "-n", "10.6.0.11", "bootstrap"]);
    assert!(
        !r.ok && r.stderr.contains("maintenance mode"),
        "{}",
        r.stderr
    );
    assert!(!dir.0.join("state/etcd").exists());
    assert!(m.stop());
}

#[test]
fn external_etcd_is_reported_and_none_is_run() {
    if !require_root("external etcd") {
        return;
    }
    let _serial = serial();
    let dir = TempDir::new("external");
    let (node, ext) = two_namespaces("ex");
    let data = dir.0.join("ext-etcd");
    let mut etcd = Proc::spawn_in(
        &ext,
        std::path::Path::new("etcd"),
        &[
            "--name=ext",
            &format!("--data-dir={}", data.display()),
            "--listen-client-urls=http://10.6.0.2:2379",
            "--advertise-client-urls=http://10.6.0.2:2379",
            "--listen-peer-urls=http://127.0.0.1:2380",
            "--initial-advertise-peer-urls=http://127.0.0.1:2380",
            "--initial-cluster=ext=http://127.0.0.1:2380",
        ],
        &dir.0.join("ext-etcd.log"),
    );
    let secrets = Secrets::generate(&dir, "ext", "https://10.6.0.50:6443");
    let admin = secrets.mctlconfig();
    let cfg = dir.0.join("cfg.yaml");
    let text = secrets.config(
        "controlplane",
        "hostname: ext-user\ninterfaces:\n  - interface: eth0\n    addresses: [10.6.0.11/24]\n",
        Some("externalEndpoints: [http://10.6.0.2:2379]\n"),
    );
    std::fs::write(&cfg, text).unwrap();
    let mut m = Machined::start(&node, &dir);
    m.wait_ready(&node, "127.0.0.1");
    let r = mctl(
        &node,
        &[
            "--insecure",
            "-n",
            "127.0.0.1",
            "apply-config",
            "-f",
            &cfg.to_string_lossy(),
        ],
    );
    assert!(r.ok, "{}", r.stderr);
    m.wait_ready_as(&node, "127.0.0.1", &admin);
    let status = |want: &str| {
        let r = mctl_as(
            &node,
            &admin,
            &["-n", "127.0.0.1", "get", "etcdstatus", "-o", "json"],
        );
        let v: serde_json::Value = serde_json::from_str(r.stdout.lines().next()?).ok()?;
        (v["spec"]["phase"] == want && v["spec"]["external"] == true).then_some(v)
    };
    let v = wait_for("external etcd running", PATIENCE, || status("running"));
    assert_eq!(v["spec"]["members"][0]["name"], "ext");
    assert!(
        pids_named(&node.name, "etcd").is_empty(),
        "machined ran an etcd of its own"
    );
    let r = mctl_as(&node, &admin, &["-n", "127.0.0.1", "bootstrap"]);
    assert!(!r.ok && r.stderr.contains("external"), "{}", r.stderr);
    etcd.stop(Duration::from_secs(10));
    wait_for("external etcd unhealthy", PATIENCE, || status("unhealthy"));
    assert!(m.stop());
}

#[test]
fn destroy_cleans_up_after_a_failed_create() {
    if !require_root("half-failed create") {
        return;
    }
    let _serial = serial();
    let dir = TempDir::new("halfdone");
    let name = format!("x{}", std::process::id() % 100_000);
    // A machined that exits at once: create gets as far as waiting for the
    // first API, then gives up.
    let out = std::process::Command::new(machined_tests::bins::mctl())
        .env("MCTL_CLUSTERS_DIR", &dir.0)
        .env("MCTLCONFIG", dir.0.join("mctlconfig"))
        .args([
            "cluster",
            "create",
            "--name",
            &name,
            "--controlplanes",
            "2",
            "--machined",
            "/bin/false",
            "--wait",
            "3s",
        ])
        .output()
        .expect("mctl cluster create");
    assert!(
        !out.status.success(),
        "create with a broken machined succeeded"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cluster destroy"),
        "no clean-up hint"
    );
    let listed = |prefix: &str| {
        let l = std::process::Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&l.stdout)
            .lines()
            .any(|l| l.starts_with(prefix))
    };
    assert!(
        listed(&format!("{name}-")),
        "create failed before making namespaces"
    );
    let r = std::process::Command::new(machined_tests::bins::mctl())
        .env("MCTL_CLUSTERS_DIR", &dir.0)
        .env("MCTLCONFIG", dir.0.join("mctlconfig"))
        .args(["cluster", "destroy", "--name", &name])
        .output()
        .expect("mctl cluster destroy");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(!listed(&format!("{name}-")), "namespaces left behind");
    assert!(!dir.0.join(&name).exists(), "cluster directory left behind");
}
