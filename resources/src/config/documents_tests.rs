//! The multi-document network config: Talos's own example documents, the
//! v1.15 files against their legacy equivalents, merging and conflicts.

use super::*;

const MAIN: &str = "version: v1alpha1\nmachine:\n  type: controlplane\n";

fn parsed(text: &str) -> Parsed {
    parse(text).unwrap_or_else(|e| panic!("{text}\n{e}"))
}

fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(p) => panic!("expected errors, got {:?}", p.config),
        Err(e) => e.errors.iter().map(|e| e.to_string()).collect(),
    }
}

/// Talos's testdata for these kinds (pkg/machinery/config/types/network).
const TALOS_LINK: &str = "apiVersion: v1alpha1\nkind: LinkConfig\nname: enp0s1\nup: true\nmtu: 9000\naddresses:\n    - address: 192.168.1.100/24\n    - address: 2001:db8::1/64\n      routePriority: 100\nroutes:\n    - destination: 10.3.5.0/24\n      gateway: 10.3.5.1\n    - gateway: fe80::1\nmulticast: true\n";
const TALOS_VLAN: &str = "apiVersion: v1alpha1\nkind: VLANConfig\nname: enp0s3.2\nvlanID: 2\nvlanMode: 802.1q\nparent: enp0s3\nup: true\naddresses:\n    - address: 192.168.1.100/32\n";
const TALOS_HOSTNAME: &str = "apiVersion: v1alpha1\nkind: HostnameConfig\nauto: stable\n";

#[test]
fn talos_examples_give_links_addresses_and_warnings() {
    let text = format!("{MAIN}---\n{TALOS_LINK}---\n{TALOS_HOSTNAME}");
    let p = parsed(&text);
    let links = p.config.links();
    assert_eq!(links.len(), 1);
    let l = &links[0];
    assert_eq!(
        (l.resolve(&[]).as_deref(), l.mtu, l.up, l.addresses.len()),
        (Some("enp0s1"), Some(9000), true, 2)
    );
    assert_eq!(l.path, "LinkConfig[0]");
    let routes: Vec<String> = l
        .routes
        .iter()
        .map(|r| format!("{} via {:?}", r.destination_or_default(), r.gateway))
        .collect();
    assert_eq!(
        routes,
        vec![
            "10.3.5.0/24 via Some(10.3.5.1)".to_string(),
            "::/0 via Some(fe80::1)".to_string()
        ]
    );
    for unsupported in ["multicast", "routePriority"] {
        assert!(
            p.warnings.iter().any(|w| w.contains(unsupported)),
            "{unsupported}: {:?}",
            p.warnings
        );
    }
    assert_eq!(
        p.config.hostname, None,
        "auto: stable leaves the kernel's name"
    );

    // A VLAN document is its own link, on its parent.
    let p = parsed(&format!("{MAIN}---\n{TALOS_VLAN}"));
    let l = &p.config.links()[0];
    assert_eq!(
        (
            l.resolve(&[]).as_deref(),
            l.vlan,
            l.addresses[0].to_string().as_str()
        ),
        (Some("enp0s3.2"), Some(2), "192.168.1.100/32")
    );
}

#[test]
fn a_node_configured_the_current_way() {
    let text = format!(
        "{MAIN}---\napiVersion: v1alpha1\nkind: HostnameConfig\nhostname: cp-1\n---\n\
         apiVersion: v1alpha1\nkind: KubeClusterConfig\nclusterName: demo\nendpoint: https://10.5.0.50:6443\n---\n\
         apiVersion: v1alpha1\nkind: LinkConfig\nname: eth0\naddresses: [{{address: 10.5.0.11/24}}]\n---\n\
         apiVersion: v1alpha1\nkind: Layer2VIPConfig\nname: 10.5.0.50\nlink: eth0\n"
    );
    let c = parsed(&text).config;
    assert_eq!(c.hostname.as_deref(), Some("cp-1"));
    assert_eq!(c.cluster.name.as_deref(), Some("demo"));
    assert_eq!(
        c.cluster.control_plane_endpoint.as_deref(),
        Some("https://10.5.0.50:6443")
    );
    assert_eq!(c.links()[0].addresses[0].to_string(), "10.5.0.11/24");
    assert_eq!(
        c.vip_ips(),
        vec!["10.5.0.50".parse::<std::net::IpAddr>().unwrap()]
    );
}

#[test]
fn v1_15_files_read_as_their_v1_10_equivalents() {
    let Some(dir) = super::tests::talos_dir() else {
        return;
    };
    for (old, new) in [
        (
            "v1.10-base-controlplane.yaml",
            "v1.15-base-controlplane.yaml",
        ),
        ("v1.10-base-worker.yaml", "v1.15-base-worker.yaml"),
        (
            "v1.10-overrides-controlplane.yaml",
            "v1.15-overrides-controlplane.yaml",
        ),
    ] {
        let read = |f: &str| parsed(&std::fs::read_to_string(dir.join(f)).unwrap()).config;
        let (a, b) = (read(old), read(new));
        let view = |c: &MachineConfig| {
            (
                c.machine_type,
                c.hostname.clone(),
                c.cluster.name.clone(),
                c.cluster.control_plane_endpoint.clone(),
                c.vip_ips(),
                c.links().len(),
                c.machine_ca.clone(),
            )
        };
        assert_eq!(view(&a), view(&b), "{old} vs {new}");
        assert!(b.cluster.name.is_some(), "{new}: KubeClusterConfig read");
    }
}

#[test]
fn conflicts_name_both_places() {
    let doc = |body: &str| {
        format!("{MAIN}  network:\n    hostname: a\n    interfaces: [{{interface: eth0, addresses: [10.0.0.1/24], vlans: [{{vlanId: 5}}]}}]\ncluster:\n  clusterName: x\n  controlPlane: {{endpoint: https://10.0.0.50:6443}}\n---\napiVersion: v1alpha1\n{body}")
    };
    let table: &[(&str, &str)] = &[
        (
            "kind: HostnameConfig\nhostname: b\n",
            "HostnameConfig[0].hostname: the hostname is also set at machine.network.hostname",
        ),
        (
            "kind: KubeClusterConfig\nclusterName: y\n",
            "KubeClusterConfig[0].clusterName: the cluster name is also set at cluster.clusterName",
        ),
        (
            "kind: KubeClusterConfig\nendpoint: https://10.0.0.51:6443\n",
            "KubeClusterConfig[0].endpoint: the endpoint is also set at cluster.controlPlane.endpoint",
        ),
        (
            "kind: LinkConfig\nname: eth0\n",
            "LinkConfig[0]: link eth0 is also configured at machine.network.interfaces[0]",
        ),
        (
            "kind: VLANConfig\nname: eth0.5\nvlanID: 5\nparent: eth0\n",
            "VLANConfig[0]: link eth0.5 is also configured at machine.network.interfaces[0].vlans[0]",
        ),
        (
            "kind: LinkConfig\nname: eth1\naddresses: [{address: 10.0.0.1/24}]\n",
            "LinkConfig[0].addresses[0]: address 10.0.0.1 is also configured at machine.network.interfaces[0].addresses[0]",
        ),
    ];
    for (body, want) in table {
        let errs = errors(&doc(body));
        assert!(
            errs.iter().any(|e| e.contains(want)),
            "{body}\n want {want}\n got {errs:?}"
        );
    }
}

#[test]
fn bad_documents_say_which_field() {
    let table: &[(&str, &str)] = &[
        (
            "kind: HostnameConfig\nauto: stable\nhostname: a\n",
            "HostnameConfig[0]: set either hostname or auto",
        ),
        (
            "kind: HostnameConfig\nauto: random\n",
            "HostnameConfig[0].auto: \"random\" is not",
        ),
        (
            "kind: HostnameConfig\n",
            "HostnameConfig[0]: needs hostname or auto",
        ),
        (
            "kind: LinkConfig\nmtu: 9000\n",
            "LinkConfig[0].name: is required",
        ),
        (
            "kind: LinkConfig\nname: eth0\naddresses: [{address: 10.0.0.1/33}]\n",
            "LinkConfig[0].addresses[0].address: \"10.0.0.1/33\" is not a valid CIDR",
        ),
        (
            "kind: VLANConfig\nname: v5\nparent: eth0\n",
            "VLANConfig[0].vlanID: is required",
        ),
        (
            "kind: VLANConfig\nname: v5\nvlanID: 5\n",
            "VLANConfig[0].parent: is required",
        ),
        (
            "kind: VLANConfig\nname: v5\nvlanID: 5\nparent: eth0\nvlanMode: 802.1ad\n",
            "VLANConfig[0].vlanMode: \"802.1ad\" is not supported",
        ),
        (
            "kind: KubeClusterConfig\nendpoint: 10.0.0.1:6443\n",
            "KubeClusterConfig[0].endpoint: \"10.0.0.1:6443\" must be a URL",
        ),
    ];
    for (body, want) in table {
        let errs = errors(&format!("{MAIN}---\napiVersion: v1alpha1\n{body}"));
        assert!(
            errs.iter().any(|e| e.contains(want)),
            "{body}\n want {want}\n got {errs:?}"
        );
    }
}

/// Talos's testdata (pkg/machinery/config/types/network/bondconfig.yaml).
const TALOS_BOND: &str = "apiVersion: v1alpha1\nkind: BondConfig\nname: agg.0\nlinks:\n    - eth0\n    - eth1\nbondMode: 802.3ad\nmiimon: 100\nupdelay: 200\ndowndelay: 200\nxmitHashPolicy: layer3+4\nlacpRate: slow\nfailOverMac: follow\nadActorSysPrio: 65535\nresendIGMP: 1\npacketsPerSlave: 1\nup: true\naddresses:\n    - address: 1.2.3.4/24\n";

#[test]
fn a_bond_document_and_the_legacy_bond_give_the_same_settings() {
    let p = parsed(&format!("{MAIN}---\n{TALOS_BOND}"));
    let links = p.config.links();
    let b = links[0].bond.expect("bond settings");
    assert_eq!(b.links, vec!["eth0", "eth1"]);
    assert_eq!(
        (b.mode.as_str(), b.miimon, b.updelay, b.downdelay),
        ("802.3ad", Some(100), Some(200), Some(200))
    );
    assert_eq!(b.xmit_hash_policy.as_deref(), Some("layer3+4"));
    assert_eq!(
        (b.lacp_rate.as_deref(), b.fail_over_mac.as_deref()),
        (Some("slow"), Some("follow"))
    );
    assert_eq!(
        (b.ad_actor_sys_prio, b.resend_igmp, b.packets_per_slave),
        (Some(65535), Some(1), Some(1))
    );
    assert_eq!(links[0].resolve(&[]).as_deref(), Some("agg.0"));
    assert_eq!(links[0].addresses[0].to_string(), "1.2.3.4/24");
    // Every field of Talos's example is known.
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);

    let legacy = parsed(&format!(
        "{MAIN}  network:\n    interfaces:\n      - interface: agg.0\n        addresses: [1.2.3.4/24]\n        bond:\n          interfaces: [eth0, eth1]\n          mode: 802.3ad\n          miimon: 100\n          updelay: 200\n          downdelay: 200\n          xmitHashPolicy: layer3+4\n          lacpRate: slow\n          failOverMac: follow\n          adActorSysPrio: 65535\n          resendIGMP: 1\n          packetsPerSlave: 1\n"
    ));
    let l = legacy.config.links();
    assert_eq!(l[0].bond, Some(b));
}

#[test]
fn bad_bonds_are_refused_naming_the_field() {
    let cases = [
        (
            "bondMode: round-robin\nlinks: [eth0]\n",
            "BondConfig[0].bondMode: \"round-robin\" is not one of",
        ),
        (
            "bondMode: active-backup\n",
            "BondConfig[0].links: is required",
        ),
        ("links: [eth0]\n", "BondConfig[0].bondMode: is required"),
        (
            "bondMode: active-backup\nlinks: [eth0, eth0]\n",
            "BondConfig[0].links[1]: link eth0 is listed twice",
        ),
        (
            "bondMode: active-backup\nlinks: [eth0]\nprimary: eth9\n",
            "BondConfig[0].primary: eth9 is not one of the bond's links",
        ),
        (
            "bondMode: active-backup\nlinks: [eth0]\nfailOverMac: sometimes\n",
            "BondConfig[0].failOverMac",
        ),
        (
            "bondMode: active-backup\nlinks: [eth0]\nmiimon: -1\n",
            "BondConfig[0].miimon",
        ),
    ];
    for (body, want) in cases {
        let e = errors(&format!("{MAIN}---\nkind: BondConfig\nname: bond0\n{body}"));
        assert!(e.iter().any(|x| x.contains(want)), "{body}: {e:?}");
    }
    let e = errors(&format!(
        "{MAIN}  network:\n    interfaces:\n      - interface: bond0\n        bond: {{interfaces: [eth0], mode: fast}}\n"
    ));
    assert!(
        e.iter()
            .any(|x| x.contains("machine.network.interfaces[0].bond.mode")),
        "{e:?}"
    );
}
