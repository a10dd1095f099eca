//! etcd's command line, as a pure function.

use crate::ControllerError;
use machined_resources::types::{EtcdCerts, EtcdSpec};
use std::net::IpAddr;
use std::path::Path;

/// etcd timing machined uses unless the config says otherwise.
pub const DEFAULT_TIMING: &[(&str, &str)] =
    &[("heartbeat-interval", "50"), ("election-timeout", "250")];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartMode {
    /// Data exists: etcd knows its cluster.
    Restart,
    /// `bootstrap`: a new one-member cluster.
    New,
    /// Joining: the member was added; `initial_cluster` lists everyone.
    Join { initial_cluster: String },
}

/// Where the etcd certificates are written for the etcd process.
pub struct PkiFiles {
    pub ca: std::path::PathBuf,
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

impl PkiFiles {
    pub fn in_dir(dir: &Path) -> Self {
        PkiFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server-key.pem"),
        }
    }

    /// Writes the certificates etcd reads (it reloads them on new
    /// connections, so a re-issued certificate needs no restart).
    pub fn write(&self, c: &EtcdCerts) -> Result<(), ControllerError> {
        let p = self;
        let dir = p.ca.parent().unwrap_or(Path::new(".")).to_path_buf();
        std::fs::create_dir_all(&dir).map_err(ControllerError::io("creating", &dir))?;
        for (path, body) in [
            (&p.ca, &c.ca_pem),
            (&p.cert, &c.server_cert_pem),
            (&p.key, &c.server_key_pem),
        ] {
            if std::fs::read_to_string(path).is_ok_and(|cur| cur == *body) {
                continue;
            }
            machined_pki::write_private(path, body.as_bytes())
                .map_err(ControllerError::io("writing", path))?;
        }
        Ok(())
    }
}

/// Arguments for etcd. Clients are served on every address (so the
/// control-plane endpoint, e.g. the VIP, reaches etcd for joins) and
/// loopback; peers only on the advertised address. With TLS, peers and
/// clients must present certificates from the etcd CA.
pub fn etcd_args(
    spec: &EtcdSpec,
    ip: IpAddr,
    data_dir: &Path,
    pki: &PkiFiles,
    mode: &StartMode,
) -> Vec<String> {
    let any: IpAddr = if ip.is_ipv4() {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    };
    let mut a = vec![
        format!("--name={}", spec.name),
        format!("--data-dir={}", data_dir.display()),
        format!("--listen-peer-urls={}", spec.peer_url(ip)),
        format!("--listen-client-urls={}", spec.client_url(any)),
        format!("--advertise-client-urls={}", spec.client_url(ip)),
        format!("--initial-advertise-peer-urls={}", spec.peer_url(ip)),
        format!("--initial-cluster-token={}", spec.cluster_token),
    ];
    match mode {
        StartMode::Restart => {}
        StartMode::New => {
            a.push(format!(
                "--initial-cluster={}={}",
                spec.name,
                spec.peer_url(ip)
            ));
            a.push("--initial-cluster-state=new".into());
        }
        StartMode::Join { initial_cluster } => {
            a.push(format!("--initial-cluster={initial_cluster}"));
            a.push("--initial-cluster-state=existing".into());
        }
    }
    if spec.tls {
        let (ca, cert, key) = (pki.ca.display(), pki.cert.display(), pki.key.display());
        a.extend([
            format!("--trusted-ca-file={ca}"),
            format!("--cert-file={cert}"),
            format!("--key-file={key}"),
            "--client-cert-auth=true".into(),
            format!("--peer-trusted-ca-file={ca}"),
            format!("--peer-cert-file={cert}"),
            format!("--peer-key-file={key}"),
            "--peer-client-cert-auth=true".into(),
        ]);
    }
    // Faster failure detection than etcd's 100/1000 ms: a dead etcd leader
    // costs an election before anyone (the VIP's next holder included) can
    // write. `cluster.etcd.extraArgs` overrides both.
    for (k, v) in DEFAULT_TIMING {
        if !spec.extra_args.contains_key(*k) {
            a.push(format!("--{k}={v}"));
        }
    }
    a.extend(spec.extra_args.iter().map(|(k, v)| format!("--{k}={v}")));
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_per_mode() {
        let mut spec = EtcdSpec {
            name: "cp-1".into(),
            client_port: 2379,
            peer_port: 2380,
            cluster_token: "demo".into(),
            ..Default::default()
        };
        spec.extra_args
            .insert("heartbeat-interval".into(), "40".into());
        let ip: IpAddr = "10.5.0.11".parse().unwrap();
        let d = Path::new("/var/lib/machined/etcd/data");
        let pki = PkiFiles::in_dir(Path::new("/var/lib/machined/etcd/pki"));
        let new = etcd_args(&spec, ip, d, &pki, &StartMode::New);
        assert!(new.contains(&"--initial-cluster=cp-1=http://10.5.0.11:2380".to_string()));
        assert!(new.contains(&"--initial-cluster-state=new".to_string()));
        assert!(new.contains(&"--advertise-client-urls=http://10.5.0.11:2379".to_string()));
        assert!(new.contains(&"--listen-client-urls=http://0.0.0.0:2379".to_string()));
        // The config's heartbeat wins over ours; our election timeout stays.
        assert_eq!(
            new.last().map(String::as_str),
            Some("--heartbeat-interval=40")
        );
        assert_eq!(
            new.iter()
                .filter(|a| a.starts_with("--heartbeat-interval"))
                .count(),
            1
        );
        assert!(new.contains(&"--election-timeout=250".to_string()));
        let join = etcd_args(
            &spec,
            ip,
            d,
            &pki,
            &StartMode::Join {
                initial_cluster: "a=x,cp-1=y".into(),
            },
        );
        assert!(join.contains(&"--initial-cluster-state=existing".to_string()));
        assert!(join.contains(&"--initial-cluster=a=x,cp-1=y".to_string()));
        let restart = etcd_args(&spec, ip, d, &pki, &StartMode::Restart);
        assert!(!restart.iter().any(|a| a.starts_with("--initial-cluster=")));
        let v6 = etcd_args(&spec, "fd00::11".parse().unwrap(), d, &pki, &StartMode::New);
        assert!(v6.contains(&"--listen-peer-urls=http://[fd00::11]:2380".to_string()));
        assert!(v6.contains(&"--listen-client-urls=http://[::]:2379".to_string()));
        assert!(!new.iter().any(|a| a.starts_with("--cert-file")));
        spec.tls = true;
        let tls = etcd_args(&spec, ip, d, &pki, &StartMode::New);
        assert!(tls.contains(&"--initial-cluster=cp-1=https://10.5.0.11:2380".to_string()));
        assert!(tls.contains(&"--listen-client-urls=https://0.0.0.0:2379".to_string()));
        assert!(tls.contains(&"--client-cert-auth=true".to_string()));
        assert!(tls.contains(&"--peer-client-cert-auth=true".to_string()));
        assert!(tls.contains(&"--peer-cert-file=/var/lib/machined/etcd/pki/server.pem".to_string()));
    }
}
