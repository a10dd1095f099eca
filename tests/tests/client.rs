//! The client config as an operator types it, with the real `mctl`: two
//! clusters of the same name merged into one file keep both sets of
//! credentials (the second is renamed and mctl says so), the endpoints and
//! nodes are set without editing the file, `gen config` never makes the VIP
//! an endpoint, and durations take one syntax everywhere.

use machined_tests::bins;
use machined_tests::node::{Run, TempDir};
use std::path::Path;

fn mctl(cfg: &Path, args: &[&str]) -> Run {
    std::process::Command::new(bins::mctl())
        .arg("--mctlconfig")
        .arg(cfg)
        .args(args)
        .output()
        .expect("run mctl")
        .into()
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn context<'a>(v: &'a yaml_serde::Value, name: &str) -> &'a yaml_serde::Value {
    &v["contexts"][name]
}

fn load(p: &Path) -> yaml_serde::Value {
    yaml_serde::from_str(&std::fs::read_to_string(p).expect("read mctlconfig")).expect("yaml")
}

#[test]
fn merging_two_clusters_of_one_name_keeps_both_and_endpoints_are_never_the_vip() {
    let dir = TempDir::new("client");
    let user = dir.0.join("user-mctlconfig");
    let (a, b) = (dir.0.join("a"), dir.0.join("b"));
    let vip = "https://10.5.0.50:6443";

    // First cluster: node endpoints given. Second: none, so mctl says what
    // to do next; one with the VIP as an endpoint gets a warning.
    let r = mctl(
        &user,
        &[
            "gen",
            "config",
            "demo",
            vip,
            "--endpoints",
            "10.5.0.11,10.5.0.12",
            "-o",
            &s(&a),
        ],
    );
    assert!(r.ok, "gen a: {}", r.stderr);
    let r = mctl(&user, &["gen", "config", "demo", vip, "-o", &s(&b)]);
    assert!(r.ok, "gen b: {}", r.stderr);
    assert!(
        r.stdout.contains("config endpoint"),
        "no next step: {}",
        r.stdout
    );
    let gb = load(&b.join("mctlconfig"));
    assert_eq!(
        context(&gb, "demo")["endpoints"]
            .as_sequence()
            .map_or(0, Vec::len),
        0,
        "the VIP or something else became an endpoint: {gb:?}"
    );
    let c = dir.0.join("c");
    let r = mctl(
        &user,
        &[
            "gen",
            "config",
            "demo",
            vip,
            "--endpoints",
            "10.5.0.50",
            "-o",
            &s(&c),
        ],
    );
    assert!(
        r.ok && r.stderr.contains("warning"),
        "no VIP warning: {}",
        r.stderr
    );

    // Merge both: the second is renamed, never written over the first.
    let r = mctl(&user, &["config", "merge", &s(&a.join("mctlconfig"))]);
    assert!(r.ok, "merge a: {}", r.stderr);
    let r = mctl(&user, &["config", "merge", &s(&b.join("mctlconfig"))]);
    assert!(r.ok, "merge b: {}", r.stderr);
    assert!(
        r.stdout.contains("renamed context demo to demo-1"),
        "rename not said: {}",
        r.stdout
    );
    let merged = load(&user);
    let ga = load(&a.join("mctlconfig"));
    assert_eq!(context(&merged, "demo")["ca"], context(&ga, "demo")["ca"]);
    assert_eq!(context(&merged, "demo")["key"], context(&ga, "demo")["key"]);
    assert_eq!(
        context(&merged, "demo-1")["key"],
        context(&gb, "demo")["key"]
    );
    assert_ne!(context(&ga, "demo")["key"], context(&gb, "demo")["key"]);
    // The same file again changes nothing.
    let r = mctl(&user, &["config", "merge", &s(&b.join("mctlconfig"))]);
    assert!(
        r.ok && !r.stdout.contains("demo-2"),
        "merge again: {}",
        r.stdout
    );

    // The merged cluster is current; point it at its nodes.
    let r = mctl(&user, &["config", "endpoint", "10.5.0.21", "10.5.0.22"]);
    assert!(r.ok, "endpoint: {}", r.stderr);
    let r = mctl(&user, &["config", "node", "10.5.0.21"]);
    assert!(r.ok, "node: {}", r.stderr);
    let r = mctl(&user, &["config", "contexts"]);
    assert!(r.ok, "contexts: {}", r.stderr);
    let row = r
        .stdout
        .lines()
        .find(|l| l.starts_with('*'))
        .unwrap_or_default()
        .to_string();
    assert!(
        row.contains("demo-1") && row.contains("10.5.0.21,10.5.0.22"),
        "contexts: {}",
        r.stdout
    );
    let r = mctl(&user, &["config", "info"]);
    assert!(
        r.ok && r.stdout.contains("admin"),
        "info: {}{}",
        r.stdout,
        r.stderr
    );

    // Removing a context that is not there says which are.
    let r = mctl(&user, &["config", "remove", "nope"]);
    assert!(
        !r.ok && r.stderr.contains("demo-1"),
        "remove nope: {}",
        r.stderr
    );
    let r = mctl(&user, &["config", "remove", "demo-1"]);
    assert!(r.ok, "remove: {}", r.stderr);
    let left = load(&user);
    assert!(context(&left, "demo-1").is_null(), "{left:?}");
    assert_eq!(context(&left, "demo")["ca"], context(&ga, "demo")["ca"]);
}

#[test]
fn one_duration_syntax_on_the_command_line() {
    let dir = TempDir::new("durations");
    let cfg = dir.0.join("none");
    // A bare number is refused with a hint, before anything is dialled.
    for args in [
        &["vip", "forfeit", "10.5.0.50", "--for", "100"][..],
        &["apply-config", "-f", "x.yaml", "--timeout", "90"][..],
    ] {
        let r = mctl(&cfg, args);
        assert!(
            !r.ok && r.stderr.contains("has no unit"),
            "{args:?}: {}",
            r.stderr
        );
    }
    // Go's forms parse (the call then fails for want of a node, not of
    // the duration).
    for d in ["500ms", "1.5s", "1m30s"] {
        let r = mctl(&cfg, &["vip", "forfeit", "10.5.0.50", "--for", d]);
        assert!(
            !r.stderr.contains("duration") && !r.stderr.contains("no unit"),
            "{d}: {}",
            r.stderr
        );
    }
}

#[test]
fn a_patch_named_by_its_file_is_read_and_errors_say_each_cause_once() {
    let dir = TempDir::new("patchfile");
    let cfg = dir.0.join("mctlconfig");
    let out = dir.0.join("gen");
    let r = mctl(
        &cfg,
        &[
            "gen",
            "config",
            "p",
            "https://10.5.0.50:6443",
            "-o",
            &s(&out),
        ],
    );
    assert!(r.ok, "gen: {}", r.stderr);
    let patch = dir.0.join("hostname.yaml");
    std::fs::write(
        &patch,
        "machine:\n  network:\n    hostname: patched-by-file\n",
    )
    .expect("write");
    let cp = s(&out.join("controlplane.yaml"));
    // No `@`: the argument names a file, so it is the file.
    let r = mctl(&cfg, &["machineconfig", "patch", &cp, "-p", &s(&patch)]);
    assert!(
        r.ok && r.stdout.contains("hostname: patched-by-file"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    // A node that is not there: the cause is said once.
    let r = mctl(&cfg, &["--insecure", "-n", "127.0.0.1:1", "version"]);
    assert!(!r.ok, "{}", r.stdout);
    assert_eq!(
        r.stderr.matches("Connection refused").count(),
        1,
        "{}",
        r.stderr
    );
}

#[test]
fn get_rd_lists_every_type_without_a_node() {
    let dir = TempDir::new("rd");
    let r = mctl(&dir.0.join("none"), &["get", "rd"]);
    assert!(r.ok, "{}", r.stderr);
    for t in ["VIPStatus", "EtcdStatus", "MachineConfig", "LinkStatus"] {
        assert!(r.stdout.contains(t), "{t}: {}", r.stdout);
    }
    let h = mctl(&dir.0.join("none"), &["get", "--help"]);
    assert!(
        h.stdout.contains("Global options:") && h.stdout.contains("mctl get rd"),
        "{}",
        h.stdout
    );
}

#[test]
fn a_pin_names_exactly_one_node() {
    let dir = TempDir::new("client-pin");
    let cfg = dir.0.join("mctlconfig");
    let out = dir.0.join("gen");
    let r = mctl(
        &cfg,
        &[
            "gen",
            "config",
            "pin",
            "https://10.5.0.50:6443",
            "--endpoints",
            "127.0.0.1:1",
            "-o",
            &s(&out),
        ],
    );
    assert!(r.ok, "gen: {}", r.stderr);
    let client = s(&out.join("mctlconfig"));
    let r = mctl(
        Path::new(&client),
        &[
            "-n",
            "127.0.0.1:1,127.0.0.1:2",
            "vip",
            "pin",
            "10.5.0.50",
            "--force",
        ],
    );
    assert!(
        !r.ok
            && r.stderr
                .contains("--nodes: a VIP is pinned on one node (got 2)"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    let r = mctl(Path::new(&client), &["vip", "unpin", "--help"]);
    assert!(r.ok && r.stdout.contains("End a pin"), "{}", r.stdout);
}
