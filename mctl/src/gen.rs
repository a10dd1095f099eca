//! `mctl gen config NAME ENDPOINT`: cluster secrets (machine CA, etcd CA),
//! `controlplane.yaml`, `worker.yaml` (Talos shape) and `mctlconfig` with an
//! `os:admin` client certificate.

use crate::mctlconfig::{Context, MctlConfig};
use anyhow::{anyhow, bail, Context as _, Result};
use machined_pki::{b64, CertKey, Leaf, ROLE_ADMIN};
use machined_resources::endpoint::{Endpoint, Host};
use serde_yaml::{Mapping, Value};
use std::path::Path;

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
    mctlconfig.contexts.insert(
        name.to_string(),
        Context {
            endpoints: vec![host],
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

/// Writes the three files into `dir`, refusing to overwrite unless `force`.
pub fn write(g: &Generated, dir: &Path, force: bool) -> Result<()> {
    let files = ["controlplane.yaml", "worker.yaml", "mctlconfig"];
    if !force {
        if let Some(f) = files.iter().map(|f| dir.join(f)).find(|p| p.exists()) {
            bail!("{} exists; use --force to overwrite", f.display());
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (f, v) in [
        ("controlplane.yaml", &g.controlplane),
        ("worker.yaml", &g.worker),
    ] {
        let p = dir.join(f);
        // They hold the CA keys: owner-only.
        machined_pki::write_private(&p, serde_yaml::to_string(v)?.as_bytes())
            .with_context(|| format!("writing {}", p.display()))?;
    }
    g.mctlconfig.save(&dir.join("mctlconfig"))
}

/// `mctl gen config NAME ENDPOINT`.
pub fn run(name: &str, endpoint: &str, output: &Path, force: bool) -> Result<bool> {
    let g = generate(name, endpoint)?;
    write(&g, output, force)?;
    println!(
        "wrote controlplane.yaml, worker.yaml and mctlconfig to {}",
        output.display()
    );
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_configs_are_valid_and_carry_the_secrets() {
        let g = generate("demo", "https://10.5.0.50:6443").unwrap();
        for (v, cp) in [(&g.controlplane, true), (&g.worker, false)] {
            let text = serde_yaml::to_string(v).unwrap();
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
        assert_eq!(ctx.endpoints, vec!["10.5.0.50"]);
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
