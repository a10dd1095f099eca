use crate::resource::ResourceSpec;
use serde::{Deserialize, Serialize};

/// The machine API's TLS material (`secrets/ApiCerts/api`): the machine CA
/// (verifies clients) and this node's server certificate issued from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiCerts {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    /// Names and addresses the server certificate covers.
    pub sans: Vec<String>,
    /// The node's own client certificate (role `os:impersonator`), for
    /// calls to other nodes on a client's behalf.
    #[serde(default)]
    pub client_cert_pem: String,
    #[serde(default)]
    pub client_key_pem: String,
}

impl ApiCerts {
    pub const ID: &'static str = "api";
}

impl ResourceSpec for ApiCerts {
    const NAMESPACE: &'static str = super::NS_SECRETS;
    const TYPE: &'static str = "ApiCerts";
}

/// etcd's TLS material (`secrets/EtcdCerts/etcd`), issued from the etcd CA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EtcdCerts {
    pub ca_pem: String,
    /// Server certificate for clients (also used as the peer certificate:
    /// it carries both server and client usages).
    pub server_cert_pem: String,
    pub server_key_pem: String,
    /// Client certificate machined uses (health, joins, the VIP election).
    pub client_cert_pem: String,
    pub client_key_pem: String,
    pub sans: Vec<String>,
}

impl EtcdCerts {
    pub const ID: &'static str = "etcd";
}

impl ResourceSpec for EtcdCerts {
    const NAMESPACE: &'static str = super::NS_SECRETS;
    const TYPE: &'static str = "EtcdCerts";
}
