//! The typed network documents of Talos's multi-document config (v1.12+):
//! `HostnameConfig`, `KubeClusterConfig`, `LinkConfig`, `VLANConfig`,
//! `BondConfig`. Field
//! names and meanings are Talos's. What a document shares with the legacy
//! `machine.network` / `cluster` fields is checked for conflicts in
//! [`merge`], each error naming both places.

use super::model::*;
use super::v1alpha1::mtu;
use super::values::{check_endpoint, check_hostname, check_link_name, parse_cidr, route};
use super::walk::{Diag, Obj};
use yaml_serde::Value;

/// What the typed documents of one config say.
#[derive(Debug, Default)]
pub struct Documents {
    /// `HostnameConfig.hostname`, with its path.
    pub hostname: Option<(String, String)>,
    /// `KubeClusterConfig`: (path, clusterName, endpoint).
    pub kube_cluster: Option<(String, Option<String>, Option<String>)>,
    pub links: Vec<LinkDoc>,
}

fn open<'a>(doc: &'a Value, path: &str, d: &mut Diag) -> Obj<'a> {
    let mut o = Obj::new(Some(doc), path, d);
    o.accept(&["apiVersion", "kind"]);
    o
}

/// `kind: HostnameConfig`: a static `hostname`, or `auto: stable|off`.
pub(super) struct HostnameConfig;

impl super::kinds::DocumentKind for HostnameConfig {
    fn kind(&self) -> &'static str {
        "HostnameConfig"
    }

    fn read(&self, doc: &Value, path: &str, g: &mut super::kinds::Gathered, d: &mut Diag) {
        hostname(doc, path, &mut g.documents, d)
    }
}

pub(super) struct KubeClusterConfig;

impl super::kinds::DocumentKind for KubeClusterConfig {
    fn kind(&self) -> &'static str {
        "KubeClusterConfig"
    }

    fn read(&self, doc: &Value, path: &str, g: &mut super::kinds::Gathered, d: &mut Diag) {
        kube_cluster(doc, path, &mut g.documents, d)
    }
}

/// `LinkConfig`, `VLANConfig` and `BondConfig`: one reader, by kind.
pub(super) struct LinkKind(pub &'static str);

impl super::kinds::DocumentKind for LinkKind {
    fn kind(&self) -> &'static str {
        self.0
    }

    fn read(&self, doc: &Value, path: &str, g: &mut super::kinds::Gathered, d: &mut Diag) {
        link(doc, path, self.0, &mut g.documents, d)
    }
}

pub fn hostname(doc: &Value, path: &str, docs: &mut Documents, d: &mut Diag) {
    let mut o = open(doc, path, d);
    let name = o.string("hostname", d);
    let auto = o.string("auto", d);
    match (&name, auto.as_deref()) {
        (Some(_), Some(_)) => d.error(path, "set either hostname or auto, not both"),
        (None, None) => d.error(path, "needs hostname or auto"),
        (None, Some("stable" | "off")) => {}
        (None, Some(other)) => d.error(
            o.path("auto"),
            format!("{other:?} is not an automatic hostname method (stable or off)"),
        ),
        (Some(h), None) => check_hostname(h, &o.path("hostname"), d),
    }
    let at = o.path("hostname");
    o.finish(d);
    if let Some(h) = name {
        if let Some((first, _)) = &docs.hostname {
            d.error(&at, format!("a hostname is already set at {first}"));
        }
        docs.hostname = Some((at, h));
    }
}

/// `kind: KubeClusterConfig`: `clusterName` and `endpoint`.
pub fn kube_cluster(doc: &Value, path: &str, docs: &mut Documents, d: &mut Diag) {
    let mut o = open(doc, path, d);
    let name = o.string("clusterName", d);
    let endpoint = o.string("endpoint", d);
    if let Some(e) = &endpoint {
        check_endpoint(e, &o.path("endpoint"), d);
    }
    o.finish(d);
    if docs.kube_cluster.is_some() {
        d.error(path, "a second KubeClusterConfig document");
        return;
    }
    docs.kube_cluster = Some((path.to_string(), name, endpoint));
}

/// `kind: LinkConfig` (`name`, `up`, `mtu`, `addresses[].address`),
/// `kind: VLANConfig` (the same, plus `vlanID` and `parent`) and
/// `kind: BondConfig` (the same, plus `links`, `bondMode` and options).
pub fn link(doc: &Value, path: &str, kind: &str, docs: &mut Documents, d: &mut Diag) {
    let vlan = kind == "VLANConfig";
    let mut o = open(doc, path, d);
    let bond = if kind == "BondConfig" {
        super::bond::settings(&mut o, "links", "bondMode", d)
    } else {
        None
    };

    let name = o.string("name", d);
    match &name {
        Some(n) => check_link_name(n, &o.path("name"), d),
        None => d.error(o.path("name"), "is required (the link's name)"),
    }
    let up = o.bool("up", d).unwrap_or(true);
    let mtu = mtu(&mut o, d);
    let mut addresses = Vec::new();
    for (p, v) in o.list("addresses", d) {
        let mut a = Obj::new(Some(v), &p, d);
        match a.string("address", d) {
            Some(s) => addresses.extend(parse_cidr(&s, &a.path("address"), d)),
            None => d.error(a.path("address"), "is required"),
        }
        a.finish(d);
    }
    let routes = o
        .list("routes", d)
        .into_iter()
        .filter_map(|(p, v)| route(v, &p, "destination", d))
        .collect();
    let vlan_of = if vlan {
        let id = o.uint("vlanID", 4094, d);
        if id == Some(0) || (id.is_none() && !o.has("vlanID")) {
            d.error(o.path("vlanID"), "is required (1-4094)");
        }
        let parent = o.string("parent", d);
        match &parent {
            Some(p) => check_link_name(p, &o.path("parent"), d),
            None => d.error(o.path("parent"), "is required (the VLAN's parent link)"),
        }
        match o.string("vlanMode", d).as_deref() {
            None | Some("802.1q") => {}
            Some(m) => d.error(
                o.path("vlanMode"),
                format!("{m:?} is not supported (802.1q only)"),
            ),
        }
        match (id.and_then(|i| u16::try_from(i).ok()), parent) {
            (Some(id), Some(parent)) if id > 0 => Some((parent, id)),
            _ => None,
        }
    } else {
        None
    };
    o.finish(d);
    let Some(name) = name else { return };
    if (vlan && vlan_of.is_none()) || (kind == "BondConfig" && bond.is_none()) {
        return;
    }
    let selector = LinkSelector::Name(match &vlan_of {
        Some((parent, _)) => parent.clone(),
        None => name.clone(),
    });
    docs.links.push(LinkDoc {
        path: path.to_string(),
        name,
        selector,
        vlan: vlan_of.map(|(_, id)| id),
        up,
        mtu,
        addresses,
        routes,
        bond,
    });
}

/// Folds the documents into the legacy config: what both set is an error
/// naming both paths; links from both forms live side by side.
pub fn merge(c: &mut MachineConfig, docs: Documents, d: &mut Diag) {
    if let Some((path, h)) = docs.hostname {
        if c.hostname.is_some() {
            d.error(
                &path,
                "the hostname is also set at machine.network.hostname: set it in one place",
            );
        }
        c.hostname = Some(h);
    }
    if let Some((path, name, endpoint)) = docs.kube_cluster {
        if name.is_some() && c.cluster.name.is_some() {
            d.error(
                format!("{path}.clusterName"),
                "the cluster name is also set at cluster.clusterName: set it in one place",
            );
        }
        if endpoint.is_some() && c.cluster.control_plane_endpoint.is_some() {
            d.error(
                format!("{path}.endpoint"),
                "the endpoint is also set at cluster.controlPlane.endpoint: set it in one place",
            );
        }
        c.cluster.name = c.cluster.name.take().or(name);
        c.cluster.control_plane_endpoint = c.cluster.control_plane_endpoint.take().or(endpoint);
    }
    c.link_docs = docs.links;
}
