//! The node's hostname: what it should be (`HostnameSpec`, from the config
//! or a DHCP lease) and what machined made of it (`HostnameStatus`).

use crate::resource::ResourceSpec;
use serde::{Deserialize, Serialize};

/// `network/HostnameSpec/hostname`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct HostnameSpec {
    pub hostname: String,
    /// The domain of an offered FQDN (`cp1.example.com` → `example.com`).
    #[serde(default)]
    pub domainname: String,
    /// `config`, or `dhcp <link>`.
    pub source: String,
}

impl HostnameSpec {
    pub const ID: &'static str = "hostname";
}

impl ResourceSpec for HostnameSpec {
    const NAMESPACE: &'static str = super::NS_NETWORK;
    const TYPE: &'static str = "HostnameSpec";
}

/// `network/HostnameStatus/hostname`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct HostnameStatus {
    /// The kernel's hostname now.
    pub hostname: String,
    #[serde(default)]
    pub domainname: String,
    /// Where the wanted name came from (`config`, `dhcp eth0`), empty when
    /// nothing asks for one.
    #[serde(default)]
    pub source: String,
    /// Why the kernel's name is not the wanted one, if it is not.
    #[serde(default)]
    pub note: String,
}

impl HostnameStatus {
    pub const ID: &'static str = "hostname";
}

impl ResourceSpec for HostnameStatus {
    const NAMESPACE: &'static str = super::NS_NETWORK;
    const TYPE: &'static str = "HostnameStatus";
}
