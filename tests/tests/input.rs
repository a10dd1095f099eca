//! Bad input from outside: a config that would lock the admin out is refused
//! and the node stays in maintenance mode; a deeply nested or oversized
//! config is refused before it is parsed, while a configured cluster keeps
//! one VIP holder and answers other calls.

use machined_tests::cluster::{serial, Cluster};
use machined_tests::faults::VIP;
use machined_tests::monitor::{longest_double, Monitor};
use machined_tests::netns::Netns;
use machined_tests::node::{mctl, Machined, Secrets, TempDir};
use machined_tests::require_root;
use std::time::{Duration, Instant};

const NODE: &str = "10.202.0.1";

#[test]
fn lockout_configs_are_refused_and_maintenance_mode_stays() {
    if !require_root("lock-out configs") {
        return;
    }
    let dir = TempDir::new("lockout");
    let (node, client) = Netns::pair("lock", "mgmt0", "10.202.0.1/24", "mgmt1", "10.202.0.2/24");
    let secrets = Secrets::generate(&dir, "lockout", "https://10.202.0.50:6443");
    let mut m = Machined::start(&node, &dir);
    m.wait_ready(&client, NODE);

    let good = secrets.config(
        "controlplane",
        "interfaces:\n  - interface: mgmt0\n    ignore: true\n",
        None,
    );
    let mut no_ca: yaml_serde::Value = yaml_serde::from_str(&good).unwrap();
    if let yaml_serde::Value::Mapping(m) = &mut no_ca["machine"] {
        m.remove("ca");
    }
    let mut no_key: yaml_serde::Value = yaml_serde::from_str(&good).unwrap();
    no_key["machine"]["ca"]["key"] = "".into();
    for (name, v, needle) in [
        ("no-ca.yaml", no_ca, "machine.ca"),
        ("no-key.yaml", no_key, "machine.ca.key"),
    ] {
        let p = dir.0.join(name);
        std::fs::write(&p, yaml_serde::to_string(&v).unwrap()).unwrap();
        let path = p.to_string_lossy().into_owned();
        let r = mctl(
            &client,
            &["--insecure", "-n", NODE, "apply-config", "-f", &path],
        );
        assert!(!r.ok, "{name} was applied: {}", r.stdout);
        assert!(
            r.stderr.contains(needle) && r.stderr.contains("nothing changed"),
            "{name}: {}",
            r.stderr
        );
        // mctl validate says the same, locally.
        let v = mctl(&client, &["validate", "-f", &path]);
        assert!(
            !v.ok && v.stderr.contains(needle),
            "validate {name}: {}",
            v.stderr
        );
    }
    // Still in maintenance mode: the insecure apply of a good config works
    // (it would be refused once configured).
    let p = dir.0.join("good.yaml");
    std::fs::write(&p, &good).unwrap();
    let r = mctl(
        &client,
        &[
            "--insecure",
            "-n",
            NODE,
            "apply-config",
            "-f",
            &p.to_string_lossy(),
        ],
    );
    assert!(r.ok, "good config after refusals: {}", r.stderr);
    assert!(m.stop(), "machined did not stop cleanly");
}

#[test]
fn nested_and_oversized_configs_cost_little_and_change_nothing() {
    if !require_root("bounded input") {
        return;
    }
    let _serial = serial();
    let c = Cluster::create("i", &["--controlplanes", "3"]);
    let cps = c.cps();
    let h = c.wait_healthy();
    let namespaces: Vec<String> = cps.iter().map(|x| x.1.clone()).collect();
    let mon = Monitor::start(&namespaces, "eth0", VIP.parse().unwrap());

    // 400 KB of nesting (the finding: 25 s of CPU before), and 3 MB.
    let nested = c.node_dir(&cps[h].0).join("nested.yaml");
    std::fs::write(
        &nested,
        format!("machine: {}{}\n", "[".repeat(200_000), "]".repeat(200_000)),
    )
    .unwrap();
    let big = c.node_dir(&cps[h].0).join("big.yaml");
    std::fs::write(&big, format!("# {}\n", "x".repeat(3 << 20))).unwrap();
    let t = Instant::now();
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let f = if i % 2 == 0 { &nested } else { &big };
            let args: Vec<String> = ["-n", &cps[h].2, "apply-config", "-f", &f.to_string_lossy()]
                .iter()
                .map(|s| s.to_string())
                .collect();
            let mut cmd = c.mctl_command(&args);
            std::thread::spawn(move || cmd.output().expect("mctl"))
        })
        .collect();
    let v = c.mctl(&["-n", &cps[h].2, "version"]);
    println!("mctl version during the bad requests: {:?}", t.elapsed());
    assert!(v.ok, "version during bad requests: {}", v.stderr);
    for (i, hd) in handles.into_iter().enumerate() {
        let out = hd.join().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "bad request {i} accepted");
        let want = if i % 2 == 0 {
            "nests brackets deeper"
        } else {
            "message length too large"
        };
        assert!(
            err.contains(want) || err.contains("at most"),
            "request {i}: {err}"
        );
    }
    println!("6 bad requests answered in {:?}", t.elapsed());
    // Nothing changed: same config, same single holder, never two.
    assert_eq!(c.wait_healthy(), h, "the VIP moved");
    let changes = mon.stop();
    assert_eq!(longest_double(&changes, 3), Duration::ZERO);
}
