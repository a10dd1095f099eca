//! The config's document kinds besides `v1alpha1`, as Talos registers
//! them: each kind's reader lives in its own file and implements
//! [`DocumentKind`]; [`KINDS`] is the one table of them. A document is read
//! into [`Gathered`] on its own (its fields checked, each error naming
//! its path); once every document is read, [`Gathered::merge`] puts them
//! into the v1alpha1 config (conflicts named), and `validate` checks the
//! whole.

use super::dhcp::Dhcpv4Config;
use super::documents::{Documents, HostnameConfig, KubeClusterConfig, LinkKind};
use super::layer2_vip::Layer2VipConfig;
use super::link_alias::LinkAliasConfig;
use super::logging::{EventSinkConfig, SinkEndpoint};
use super::model::{DhcpDoc, Layer2Vip, LinkAlias, MachineConfig};
use super::walk::Diag;
use yaml_serde::Value;

/// One kind of config document.
pub(super) trait DocumentKind: Sync {
    /// Its `kind:`.
    fn kind(&self) -> &'static str;
    /// Reads one document of this kind, at `path` (`Kind[n]`), into `g`;
    /// what is wrong goes to `d`.
    fn read(&self, doc: &Value, path: &str, g: &mut Gathered, d: &mut Diag);
}

/// Every kind machined reads besides the v1alpha1 document.
pub(super) static KINDS: &[&dyn DocumentKind] = &[
    &EventSinkConfig,
    &Layer2VipConfig,
    &HostnameConfig,
    &KubeClusterConfig,
    &LinkKind("LinkConfig"),
    &LinkKind("VLANConfig"),
    &LinkKind("BondConfig"),
    &Dhcpv4Config,
    &LinkAliasConfig,
];

/// The kind named `k`, if machined reads it.
pub(super) fn find(k: &str) -> Option<&'static dyn DocumentKind> {
    KINDS.iter().copied().find(|x| x.kind() == k)
}

/// The kinds' names, for messages.
pub(super) fn names() -> Vec<&'static str> {
    KINDS.iter().map(|k| k.kind()).collect()
}

/// What the documents other than v1alpha1 said, gathered while reading.
#[derive(Default)]
pub(super) struct Gathered {
    pub layer2_vips: Vec<Layer2Vip>,
    pub dhcp_docs: Vec<DhcpDoc>,
    pub link_aliases: Vec<LinkAlias>,
    pub event_sink: Option<SinkEndpoint>,
    pub documents: Documents,
}

impl Gathered {
    /// Puts what was gathered into the v1alpha1 config.
    pub(super) fn merge(self, c: &mut MachineConfig, d: &mut Diag) {
        c.layer2_vips = self.layer2_vips;
        c.dhcp_docs = self.dhcp_docs;
        c.link_aliases = self.link_aliases;
        c.event_sink = self.event_sink;
        super::documents::merge(c, self.documents, d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_registered_once_and_found_by_name() {
        let names = names();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        for n in &names {
            assert_eq!(find(n).map(|k| k.kind()), Some(*n));
        }
        assert!(find("v1alpha1").is_none() && find("MachineConfig").is_none());
    }
}
