//! `mctl gen config NAME ENDPOINT`: cluster secrets (machine CA, etcd CA),
//! `controlplane.yaml`, `worker.yaml` (Talos shape) and `mctlconfig` with an
//! `os:admin` client certificate.

use crate::mctlconfig::{Context, MctlConfig};
use anyhow::{anyhow, bail, Context as _, Result};
use machined_pki::{b64, CertKey, Leaf, ROLE_ADMIN};
use machined_resources::endpoint::{Endpoint, Host};
use std::path::Path;
use yaml_serde::{Mapping, Value};

fn map(pairs: Vec<(&str, Value)>) -> Value {
    let mut m = Mapping::new();
    for (k, v) in pairs {
        m.insert(Value::from(k), v);
    }
    Value::Mapping(m)
}

fn ca_block(ca: &CertKey) -> Value {
    map(vec![
        ("crt", b64(&ca.cert_pem).into()),
        ("key", b64(&ca.key_pem).into()),
    ])
}

/// The host of an `https://HOST:PORT` endpoint.
fn endpoint_host(endpoint: &str) -> Result<String> {
    let e = Endpoint::parse(endpoint).map_err(|e| anyhow!("ENDPOINT {endpoint:?}: {e}"))?;
    if e.scheme.as_deref() != Some("https") {
        bail!("ENDPOINT {endpoint:?}: must be a URL like https://10.5.0.50:6443");
    }
    Ok(match e.host {
        Host::Ip(ip) => ip.to_string(),
        Host::Name(n) => n,
    })
}

pub struct Generated {
    pub controlplane: Value,
    pub worker: Value,
    pub mctlconfig: MctlConfig,
}

/// Generates everything for cluster `name` behind `endpoint`.
pub fn generate(name: &str, endpoint: &str) -> Result<Generated> {
    let host = endpoint_host(endpoint)?;
    let machine_ca = CertKey::new_ca("machined", 3650)?;
    let etcd_ca = CertKey::new_ca("etcd", 3650)?;
    let admin = machine_ca.issue(&Leaf {
        common_name: "admin".into(),
        orgs: vec![ROLE_ADMIN.into()],
        client: true,
        days: 365,
        ..Default::default()
    })?;
    let node = |kind: &str, etcd: bool| {
        let mut cluster = vec![
            ("clusterName", Value::from(name)),
            ("controlPlane", map(vec![("endpoint", endpoint.into())])),
        ];
        if etcd {
            cluster.push(("etcd", map(vec![("ca", ca_block(&etcd_ca))])));
        }
        map(vec![
            ("version", "v1alpha1".into()),
            (
                "machine",
                map(vec![
                    ("type", kind.into()),
                    // Workers carry the CA key too: they issue their own API
                    // certificate (Talos uses trustd for that instead).
                    ("ca", ca_block(&machine_ca)),
                    ("certSANs", Value::Sequence(vec![])),
                    ("network", map(vec![])),
                ]),
            ),
            ("cluster", map(cluster)),
        ])
    };
    let mut mctlconfig = MctlConfig {
        context: name.to_string(),
        ..Default::default()
    };
    // Never the VIP: it answers only once etcd has elected a holder, and
    // the first calls (apply-config, bootstrap) come before that. The node
    // addresses are set with --endpoints or `mctl config endpoint`.
    let _ = host;
    mctlconfig.contexts.insert(
        name.to_string(),
        Context {
            endpoints: vec![],
            nodes: vec![],
            ca: b64(&machine_ca.cert_pem),
            crt: b64(&admin.cert_pem),
            key: b64(&admin.key_pem),
            netns: None,
        },
    );
    Ok(Generated {
        controlplane: node("controlplane", true),
        worker: node("worker", false),
        mctlconfig,
    })
}

/// `--config-patch`, `--config-patch-control-plane`, `--config-patch-worker`.
#[derive(Debug, Default)]
pub struct Patches {
    pub both: Vec<String>,
    pub controlplane: Vec<String>,
    pub worker: Vec<String>,
}

/// Writes the three files into `dir`, refusing to overwrite unless `force`.
pub fn write(g: &Generated, dir: &Path, force: bool) -> Result<()> {
    write_patched(g, dir, force, &Patches::default())
}

/// [`write`], with the configs patched first (each result must be valid).
pub fn write_patched(g: &Generated, dir: &Path, force: bool, patches: &Patches) -> Result<()> {
    let files = ["controlplane.yaml", "worker.yaml", "mctlconfig"];
    if !force {
        if let Some(f) = files.iter().map(|f| dir.join(f)).find(|p| p.exists()) {
            bail!("{} exists; use --force to overwrite", f.display());
        }
    }
    // Every patch is applied and checked before anything is written.
    let both = crate::patch::load(&patches.both)?;
    let mut texts = Vec::new();
    for (f, v, own) in [
        ("controlplane.yaml", &g.controlplane, &patches.controlplane),
        ("worker.yaml", &g.worker, &patches.worker),
    ] {
        let mut text = yaml_serde::to_string(v)?;
        let list: Vec<_> = both
            .iter()
            .cloned()
            .chain(crate::patch::load(own)?)
            .collect();
        if !list.is_empty() {
            text = crate::patch::apply_checked(&text, &list, f)?;
        }
        texts.push((f, text));
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (f, text) in texts {
        let p = dir.join(f);
        // They hold the CA keys: owner-only.
        machined_pki::write_private(&p, text.as_bytes())
            .with_context(|| format!("writing {}", p.display()))?;
    }
    g.mctlconfig.save(&dir.join("mctlconfig"))
}

/// `mctl gen config NAME ENDPOINT [--endpoints ADDR,...]`.
pub fn run(
    name: &str,
    endpoint: &str,
    endpoints: &[String],
    output: &Path,
    force: bool,
    patches: &Patches,
) -> Result<bool> {
    let mut g = generate(name, endpoint)?;
    let vip = endpoint_host(endpoint)?;
    if let Some(c) = g.mctlconfig.contexts.get_mut(name) {
        c.endpoints = endpoints.to_vec();
    }
    write_patched(&g, output, force, patches)?;
    println!(
        "wrote controlplane.yaml, worker.yaml and mctlconfig to {}",
        output.display()
    );
    if endpoints.contains(&vip) {
        eprintln!(
            "warning: endpoint {vip} is the control-plane endpoint (the VIP): it answers only once etcd has elected a holder, so the first apply-config and bootstrap cannot reach it; give node addresses"
        );
    }
    if endpoints.is_empty() {
        println!(
            "next: once the nodes have addresses, point the client at them (never the VIP, which answers only after bootstrap):\n  mctl --mctlconfig {} config endpoint <node address>...",
            output.join("mctlconfig").display()
        );
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_configs_are_valid_and_carry_the_secrets() {
        let g = generate("demo", "https://10.5.0.50:6443").unwrap();
        for (v, cp) in [(&g.controlplane, true), (&g.worker, false)] {
            let text = yaml_serde::to_string(v).unwrap();
            let p =
                machined_resources::config::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert!(p.config.machine_ca.is_some_and(|c| !c.key.is_empty()));
            assert_eq!(p.config.cluster.etcd.ca.is_some(), cp);
            assert_eq!(
                p.config.cluster.control_plane_endpoint.as_deref(),
                Some("https://10.5.0.50:6443")
            );
        }
        let (_, ctx) = g.mctlconfig.current(&None).unwrap().unwrap();
        assert!(
            ctx.endpoints.is_empty(),
            "never the VIP: {:?}",
            ctx.endpoints
        );
        let crt = machined_pki::unb64(&ctx.crt).unwrap();
        let roles = machined_pki::roles(&machined_pki::pem_to_der(&crt).unwrap()).unwrap();
        assert_eq!(roles, vec!["os:admin"]);
        assert!(endpoint_host("10.5.0.50:6443").is_err());
        assert_eq!(
            endpoint_host("https://[fd00::50]:6443").unwrap(),
            "fd00::50"
        );
    }

    #[test]
    fn patches_reach_the_configs_they_name_and_bad_ones_write_nothing() {
        let dir = std::env::temp_dir().join(format!("mctl-gen-patch-{}", std::process::id()));
        let g = generate("demo", "https://10.5.0.50:6443").unwrap();
        let vip = "machine:\n  network:\n    interfaces:\n      - interface: eth0\n        vip: {ip: 10.5.0.50}\n";
        let p = Patches {
            both: vec!["machine: {certSANs: [extra.example.org]}".into()],
            controlplane: vec![vip.into()],
            worker: vec![],
        };
        write_patched(&g, &dir, false, &p).unwrap();
        let read = |f: &str| {
            let text = std::fs::read_to_string(dir.join(f)).unwrap();
            machined_resources::config::parse(&text).unwrap().config
        };
        let (cp, w) = (read("controlplane.yaml"), read("worker.yaml"));
        assert_eq!(cp.vip_ips().len(), 1);
        assert!(w.vip_ips().is_empty());
        assert!(cp.cert_sans.contains(&"extra.example.org".to_string()));
        assert!(w.cert_sans.contains(&"extra.example.org".to_string()));
        std::fs::remove_dir_all(&dir).unwrap();

        // A VIP on a worker is refused, and no file is written.
        let bad = Patches {
            worker: vec![vip.into()],
            ..Default::default()
        };
        let e = write_patched(&g, &dir, false, &bad)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("worker.yaml after patching is not a valid config"),
            "{e}"
        );
        assert!(!dir.exists());
    }

    #[test]
    fn refuses_to_overwrite_without_force() {
        let dir = std::env::temp_dir().join(format!("mctl-gen-{}", std::process::id()));
        let g = generate("demo", "https://10.5.0.50:6443").unwrap();
        write(&g, &dir, false).unwrap();
        let e = write(&g, &dir, false).unwrap_err().to_string();
        assert!(e.contains("exists; use --force"), "{e}");
        write(&g, &dir, true).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
