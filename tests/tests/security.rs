//! The machine API's security against a real machined: maintenance mode,
//! mTLS with certificates from the machine CA only, expiry, and roles.

use machined_tests::netns::Netns;
use machined_tests::node::{mctl, mctl_as, Machined, Run, Secrets, TempDir};
use machined_tests::{require_root, wait_for, PATIENCE};
use std::path::{Path, PathBuf};
use yaml_serde::Value;

const NODE: &str = "10.7.0.11";

fn refused(r: &Run, what: &str) {
    assert!(!r.ok, "{what}: expected refusal, got: {}", r.stdout);
}

/// A copy of `base` (an mctlconfig) with another client certificate.
fn with_cert(base: &Path, out: PathBuf, cert_pem: &str, key_pem: &str) -> PathBuf {
    let mut v: Value = yaml_serde::from_str(&std::fs::read_to_string(base).unwrap()).unwrap();
    let ctx = v["context"].as_str().unwrap().to_string();
    v["contexts"][ctx.as_str()]["crt"] = machined_pki::b64(cert_pem).into();
    v["contexts"][ctx.as_str()]["key"] = machined_pki::b64(key_pem).into();
    std::fs::write(&out, yaml_serde::to_string(&v).unwrap()).unwrap();
    out
}

fn field(cfg: &Path, key: &str) -> String {
    let v: Value = yaml_serde::from_str(&std::fs::read_to_string(cfg).unwrap()).unwrap();
    let ctx = v["context"].as_str().unwrap().to_string();
    machined_pki::unb64(v["contexts"][ctx.as_str()][key].as_str().unwrap()).unwrap()
}

#[test]
fn maintenance_mode_then_mtls_with_roles() {
    if !require_root("security") {
        return;
    }
    let dir = TempDir::new("security");
    let (node, client) = Netns::pair("sec", "eth0", "10.7.0.11/24", "eth1", "10.7.0.2/24");
    let secrets = Secrets::generate(&dir, "sec", "https://10.7.0.50:6443");
    let admin = secrets.mctlconfig();
    let mut m = Machined::start(&node, &dir);
    m.wait_ready(&client, NODE);

    // Maintenance mode: version and apply only.
    assert!(mctl(&client, &["--insecure", "-n", NODE, "version"]).ok);
    for args in [vec!["get", "links"], vec!["bootstrap"]] {
        let mut a = vec!["--insecure", "-n", NODE];
        a.extend(args.iter());
        let r = mctl(&client, &a);
        refused(&r, &format!("{args:?} in maintenance mode"));
        assert!(r.stderr.contains("maintenance mode"), "{}", r.stderr);
    }
    // Without --insecure and without a client config, mctl says what is missing.
    let r = mctl(&client, &["-n", NODE, "get", "links"]);
    refused(&r, "no credentials");
    assert!(r.stderr.contains("no client credentials"), "{}", r.stderr);

    let cfg = dir.0.join("node.yaml");
    let text = secrets.config(
        "controlplane",
        "hostname: sec-1\ninterfaces:\n  - interface: eth0\n    addresses: [10.7.0.11/24]\n",
        None,
    );
    std::fs::write(&cfg, text).unwrap();
    let r = mctl(
        &client,
        &[
            "--insecure",
            "-n",
            NODE,
            "apply-config",
            "-f",
            &cfg.to_string_lossy(),
        ],
    );
    assert!(r.ok, "{}", r.stderr);
    m.wait_ready_as(&client, NODE, &admin);

    // Admin may do everything.
    assert!(mctl_as(&client, &admin, &["-n", NODE, "get", "links"]).ok);
    assert!(mctl_as(&client, &admin, &["-n", NODE, "get", "machineconfig"]).ok);
    let r = mctl_as(
        &client,
        &admin,
        &[
            "-n",
            NODE,
            "apply-config",
            "--dry-run",
            "-f",
            &cfg.to_string_lossy(),
        ],
    );
    assert!(r.ok, "{}", r.stderr);

    // No client certificate: refused once configured.
    wait_for("maintenance TLS gone", PATIENCE, || {
        (!mctl(&client, &["--insecure", "-n", NODE, "version"]).ok).then_some(())
    });
    refused(
        &mctl(&client, &["--insecure", "-n", NODE, "get", "links"]),
        "no client certificate",
    );
    refused(
        &mctl(
            &client,
            &[
                "--insecure",
                "-n",
                NODE,
                "apply-config",
                "-f",
                &cfg.to_string_lossy(),
            ],
        ),
        "insecure apply",
    );

    // A certificate from another CA: refused.
    let other = TempDir::new("security-other");
    let foreign = Secrets::generate(&other, "other", "https://10.7.0.50:6443").mctlconfig();
    let mixed = with_cert(
        &admin,
        dir.0.join("foreign.yaml"),
        &field(&foreign, "crt"),
        &field(&foreign, "key"),
    );
    let r = mctl_as(&client, &mixed, &["-n", NODE, "get", "links"]);
    refused(&r, "foreign client certificate");

    // An expired certificate from the right CA: refused.
    let base: Value = yaml_serde::from_str(
        &std::fs::read_to_string(secrets.dir.join("controlplane.yaml")).unwrap(),
    )
    .unwrap();
    let ca = machined_pki::CertKey {
        cert_pem: machined_pki::unb64(base["machine"]["ca"]["crt"].as_str().unwrap()).unwrap(),
        key_pem: machined_pki::unb64(base["machine"]["ca"]["key"].as_str().unwrap()).unwrap(),
    };
    let expired = ca
        .issue(&machined_pki::Leaf {
            common_name: "old".into(),
            orgs: vec!["os:admin".into()],
            client: true,
            days: 0,
            ..Default::default()
        })
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let old = with_cert(
        &admin,
        dir.0.join("expired.yaml"),
        &expired.cert_pem,
        &expired.key_pem,
    );
    refused(
        &mctl_as(&client, &old, &["-n", NODE, "get", "links"]),
        "expired certificate",
    );

    // A reader, issued by the node: reads links, not the machine config;
    // cannot apply, bootstrap, or issue certificates.
    let reader = dir.0.join("reader.yaml");
    let r = mctl_as(
        &client,
        &admin,
        &[
            "-n",
            NODE,
            "config",
            "new",
            "--roles",
            "os:reader",
            &reader.to_string_lossy(),
        ],
    );
    assert!(r.ok, "config new: {}", r.stderr);
    assert!(mctl_as(&client, &reader, &["-n", NODE, "get", "links"]).ok);
    let info = mctl_as(&client, &reader, &["config", "info"]);
    assert!(info.stdout.contains("os:reader"), "{}", info.stdout);
    for args in [
        vec!["get", "machineconfig"],
        vec!["get", "apicerts"],
        vec!["bootstrap"],
        vec!["apply-config", "--dry-run", "-f", cfg.to_str().unwrap()],
    ] {
        let mut a = vec!["-n", NODE];
        a.extend(args.iter());
        let r = mctl_as(&client, &reader, &a);
        refused(&r, &format!("reader {args:?}"));
        assert!(r.stderr.contains("may not"), "{}", r.stderr);
    }
    let r = mctl_as(
        &client,
        &reader,
        &[
            "-n",
            NODE,
            "config",
            "new",
            "--roles",
            "os:admin",
            &dir.0.join("never.yaml").to_string_lossy(),
        ],
    );
    refused(&r, "reader issuing an admin certificate");
    let r = mctl_as(
        &client,
        &admin,
        &[
            "-n",
            NODE,
            "config",
            "new",
            "--roles",
            "root",
            &dir.0.join("x").to_string_lossy(),
        ],
    );
    refused(&r, "unknown role");
    assert!(r.stderr.contains("unknown role"), "{}", r.stderr);
    assert!(m.stop());
}
