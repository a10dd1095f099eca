//! etcd's command line, as a pure function.

use machined_resources::types::EtcdSpec;
use std::net::IpAddr;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartMode {
    /// Data exists: etcd knows its cluster.
    Restart,
    /// `bootstrap`: a new one-member cluster.
    New,
    /// Joining: the member was added; `initial_cluster` lists everyone.
    Join { initial_cluster: String },
}

fn url(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("http://{v4}:{port}"),
        IpAddr::V6(v6) => format!("http://[{v6}]:{port}"),
    }
}

pub fn peer_url(spec: &EtcdSpec, ip: IpAddr) -> String {
    url(ip, spec.peer_port)
}

pub fn client_url(spec: &EtcdSpec, ip: IpAddr) -> String {
    url(ip, spec.client_port)
}

/// Arguments for etcd. Clients are served on every address (so the
/// control-plane endpoint, e.g. the VIP, reaches etcd for joins) and
/// loopback; peers only on the advertised address.
pub fn etcd_args(spec: &EtcdSpec, ip: IpAddr, data_dir: &Path, mode: &StartMode) -> Vec<String> {
    let any = if ip.is_ipv4() { "0.0.0.0" } else { "[::]" };
    let mut a = vec![
        format!("--name={}", spec.name),
        format!("--data-dir={}", data_dir.display()),
        format!("--listen-peer-urls={}", peer_url(spec, ip)),
        format!("--listen-client-urls=http://{any}:{}", spec.client_port),
        format!("--advertise-client-urls={}", client_url(spec, ip)),
        format!("--initial-advertise-peer-urls={}", peer_url(spec, ip)),
        format!("--initial-cluster-token={}", spec.cluster_token),
    ];
    match mode {
        StartMode::Restart => {}
        StartMode::New => {
            a.push(format!(
                "--initial-cluster={}={}",
                spec.name,
                peer_url(spec, ip)
            ));
            a.push("--initial-cluster-state=new".into());
        }
        StartMode::Join { initial_cluster } => {
            a.push(format!("--initial-cluster={initial_cluster}"));
            a.push("--initial-cluster-state=existing".into());
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
            .insert("heartbeat-interval".into(), "50".into());
        let ip: IpAddr = "10.5.0.11".parse().unwrap();
        let d = Path::new("/var/lib/machined/etcd/data");
        let new = etcd_args(&spec, ip, d, &StartMode::New);
        assert!(new.contains(&"--initial-cluster=cp-1=http://10.5.0.11:2380".to_string()));
        assert!(new.contains(&"--initial-cluster-state=new".to_string()));
        assert!(new.contains(&"--advertise-client-urls=http://10.5.0.11:2379".to_string()));
        assert!(new.contains(&"--listen-client-urls=http://0.0.0.0:2379".to_string()));
        assert_eq!(
            new.last().map(String::as_str),
            Some("--heartbeat-interval=50")
        );
        let join = etcd_args(
            &spec,
            ip,
            d,
            &StartMode::Join {
                initial_cluster: "a=x,cp-1=y".into(),
            },
        );
        assert!(join.contains(&"--initial-cluster-state=existing".to_string()));
        assert!(join.contains(&"--initial-cluster=a=x,cp-1=y".to_string()));
        let restart = etcd_args(&spec, ip, d, &StartMode::Restart);
        assert!(!restart.iter().any(|a| a.starts_with("--initial-cluster=")));
        let v6 = etcd_args(&spec, "fd00::11".parse().unwrap(), d, &StartMode::New);
        assert!(v6.contains(&"--listen-peer-urls=http://[fd00::11]:2380".to_string()));
        assert!(v6.contains(&"--listen-client-urls=http://[::]:2379".to_string()));
    }
}
