use crate::resource::ResourceSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// What etcd this node should run (`etcd/EtcdSpec/etcd`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct EtcdSpec {
    /// Member name (the node name).
    pub name: String,
    /// The node address etcd advertises; `None` until the node has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertise_ip: Option<IpAddr>,
    pub client_port: u16,
    pub peer_port: u16,
    #[serde(default)]
    pub extra_args: BTreeMap<String, String>,
    /// Client URLs to look for a running member at, to join through.
    #[serde(default)]
    pub join_endpoints: Vec<String>,
    /// External etcd: run none, watch these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_endpoints: Vec<String>,
    pub cluster_token: String,
    /// Peer and client traffic over TLS with certificates from
    /// `cluster.etcd.ca` (`EtcdCerts`).
    #[serde(default)]
    pub tls: bool,
}

impl EtcdSpec {
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    pub const ID: &'static str = "etcd";

    /// This member's client URL at `ip`.
    pub fn client_url(&self, ip: IpAddr) -> String {
        crate::endpoint::ip_url(self.scheme(), ip, self.client_port)
    }

    /// This member's peer URL at `ip`.
    pub fn peer_url(&self, ip: IpAddr) -> String {
        crate::endpoint::ip_url(self.scheme(), ip, self.peer_port)
    }

    /// The local member's client URL on loopback, of the advertised
    /// address's family: what this node's own clients dial.
    pub fn local_client_url(&self) -> String {
        let lo: IpAddr = if self.advertise_ip.is_some_and(|ip| ip.is_ipv6()) {
            std::net::Ipv6Addr::LOCALHOST.into()
        } else {
            std::net::Ipv4Addr::LOCALHOST.into()
        };
        self.client_url(lo)
    }
}

impl ResourceSpec for EtcdSpec {
    const NAMESPACE: &'static str = super::NS_ETCD;
    const TYPE: &'static str = "EtcdSpec";
}

/// A `bootstrap` was accepted for this node (`etcd/EtcdBootstrap/etcd`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct EtcdBootstrap {
    pub requested: bool,
}

impl EtcdBootstrap {
    pub const ID: &'static str = "etcd";
}

impl ResourceSpec for EtcdBootstrap {
    const NAMESPACE: &'static str = super::NS_ETCD;
    const TYPE: &'static str = "EtcdBootstrap";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum EtcdPhase {
    WaitingForBootstrap,
    Joining,
    Starting,
    Running,
    Unhealthy,
    #[default]
    Stopped,
}

impl EtcdPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            EtcdPhase::WaitingForBootstrap => "waiting-for-bootstrap",
            EtcdPhase::Joining => "joining",
            EtcdPhase::Starting => "starting",
            EtcdPhase::Running => "running",
            EtcdPhase::Unhealthy => "unhealthy",
            EtcdPhase::Stopped => "stopped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct EtcdMember {
    /// Hex, as etcdctl prints it.
    pub id: String,
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    #[serde(default)]
    pub learner: bool,
}

/// How etcd is doing (`etcd/EtcdStatus/etcd`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct EtcdStatus {
    pub phase: EtcdPhase,
    /// This node's member id (hex); empty if not a member.
    #[serde(default)]
    pub member_id: String,
    #[serde(default)]
    pub members: Vec<EtcdMember>,
    /// Leader's member id (hex) and name.
    #[serde(default)]
    pub leader: String,
    #[serde(default)]
    pub leader_name: String,
    /// etcd is external (not run by machined).
    #[serde(default)]
    pub external: bool,
    /// Times machined restarted etcd after it died.
    #[serde(default)]
    pub restarts: u32,
    #[serde(default)]
    pub last_error: String,
    /// The members as the last healthy check listed them, kept while etcd
    /// cannot list them (no quorum): where to look for it again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub last_members: Vec<EtcdMember>,
}

impl EtcdStatus {
    pub const ID: &'static str = "etcd";

    pub fn is_running(&self) -> bool {
        self.phase == EtcdPhase::Running
    }

    /// Client URLs of the other voting members: as listed now, else as
    /// last listed.
    pub fn peer_client_urls(&self) -> Vec<String> {
        let listed = if self.members.is_empty() {
            &self.last_members
        } else {
            &self.members
        };
        listed
            .iter()
            .filter(|m| m.id != self.member_id && !m.learner)
            .flat_map(|m| m.client_urls.iter().cloned())
            .collect()
    }
}

impl ResourceSpec for EtcdStatus {
    const NAMESPACE: &'static str = super::NS_ETCD;
    const TYPE: &'static str = "EtcdStatus";
}

/// This node's member left the cluster (`mctl etcd leave`): no etcd runs
/// here, and its data is gone, until `mctl etcd join`
/// (`etcd/EtcdLeft/etcd`; persisted as `STATE/etcd/left`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct EtcdLeft {
    pub since: crate::resource::Timestamp,
}

impl EtcdLeft {
    pub const ID: &'static str = "etcd";
    /// The marker file, under the state directory.
    pub const MARKER: &'static str = "etcd/left";
}

impl ResourceSpec for EtcdLeft {
    const NAMESPACE: &'static str = super::NS_ETCD;
    const TYPE: &'static str = "EtcdLeft";
}
