use super::*;
use std::path::PathBuf;

fn errors_of(yaml: &str) -> Vec<String> {
    match parse(yaml) {
        Ok(p) => panic!("expected errors, got {:?}", p.config),
        Err(e) => e.errors.iter().map(|e| e.to_string()).collect(),
    }
}

fn has(errors: &[String], needle: &str) -> bool {
    errors.iter().any(|e| e.contains(needle))
}

const CP: &str = r#"
version: v1alpha1
machine:
  type: controlplane
  network:
    hostname: cp-1
    interfaces:
      - interface: eth0
        addresses: [10.5.0.11/24]
        mtu: 1400
        vip:
          ip: 10.5.0.50
        vlans:
          - vlanId: 10
            addresses: [192.168.10.2/24]
            vip: { ip: 192.168.10.50 }
      - deviceSelector:
          hardwareAddr: "52:54:00:*"
        addresses: ["fd00::11/64"]
cluster:
  controlPlane:
    endpoint: https://10.5.0.50:6443
"#;

#[test]
fn parses_supported_fields() {
    let p = parse(CP).expect("valid");
    let c = &p.config;
    assert_eq!(c.machine_type, MachineType::Controlplane);
    assert_eq!(c.hostname.as_deref(), Some("cp-1"));
    assert_eq!(c.interfaces.len(), 2);
    assert_eq!(c.interfaces[0].selector, LinkSelector::Name("eth0".into()));
    assert_eq!(c.interfaces[0].addresses[0].to_string(), "10.5.0.11/24");
    assert_eq!(c.interfaces[0].mtu, Some(1400));
    assert_eq!(
        c.interfaces[0].vip.as_ref().map(|v| v.ip.to_string()),
        Some("10.5.0.50".into())
    );
    assert_eq!(c.interfaces[0].vlans[0].vlan_id, 10);
    assert_eq!(
        c.interfaces[1].selector,
        LinkSelector::Device(DeviceSelector {
            hardware_addr: Some("52:54:00:*".into()),
            physical: None
        })
    );
    assert_eq!(
        c.cluster.control_plane_endpoint.as_deref(),
        Some("https://10.5.0.50:6443")
    );
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn vip_options_block() {
    let p = parse(
        "version: v1alpha1\nmachine:\n  type: controlplane\n  network:\n    interfaces:\n      - interface: eth0\n        vip:\n          ip: 10.5.0.50\n          machined:\n            leaseTTL: 3s\n            announceCount: 5\n            announceInterval: 20ms\n            refreshInterval: 0\n            holderProbeInterval: 100ms\n            holderDeadAfter: 1s\n            proofProbeInterval: 250ms\n",
    )
    .expect("valid");
    let o = &p.config.interfaces[0].vip.as_ref().unwrap().options;
    assert_eq!(o.lease_ttl_secs, 3);
    assert_eq!(
        (
            o.announce.count,
            o.announce.interval_ms,
            o.announce.refresh_ms
        ),
        (5, 20, 0)
    );
    assert_eq!((o.holder_probe_ms, o.holder_dead_after_ms), (100, 1000));
    assert_eq!(o.proof_probe_ms, 250);
    let d = super::VipOptions::default();
    let p = parse("version: v1alpha1\nmachine:\n  type: controlplane\n  network:\n    interfaces:\n      - interface: eth0\n        vip: {ip: 10.5.0.50}\n").unwrap();
    assert_eq!(p.config.interfaces[0].vip.as_ref().unwrap().options, d);
    for (opt, want) in [
        ("leaseTTL: 1500ms", "leaseTTL: must be whole seconds"),
        ("leaseTTL: 2s", "leaseTTL: must be at least 3s"),
        ("claimWindow: 1ms", "claimWindow: 1ms is out of range"),
        ("leaseTTL: soon", "leaseTTL: must be a duration"),
        ("announceCount: 0", "announceCount: 0 is out of range"),
        (
            "proofProbeInterval: 10ms",
            "proofProbeInterval: 10ms is out of range",
        ),
        (
            "holderProbeInterval: 100ms\n            holderDeadAfter: 140ms",
            "holderDeadAfter: must be at least 1.5",
        ),
    ] {
        let yaml = format!("version: v1alpha1\nmachine:\n  type: controlplane\n  network:\n    interfaces:\n      - interface: eth0\n        vip:\n          ip: 10.5.0.50\n          machined:\n            {opt}\n");
        let errs = errors_of(&yaml);
        assert!(
            has(
                &errs,
                &format!("machine.network.interfaces[0].vip.machined.{want}")
            ),
            "{opt}: {errs:?}"
        );
    }
}

#[test]
fn etcd_section() {
    let p = parse(
        "version: v1alpha1\nmachine: {type: controlplane}\ncluster:\n  etcd:\n    advertisedSubnets: [10.5.0.0/24, \"!10.5.0.50/32\"]\n    extraArgs: {heartbeat-interval: 50, election-timeout: \"500\"}\n    peers: [10.5.0.11, \"10.5.0.12:2379\"]\n    image: gcr.io/etcd\n",
    )
    .expect("valid");
    let e = &p.config.cluster.etcd;
    assert_eq!(e.advertised_subnets, vec!["10.5.0.0/24", "!10.5.0.50/32"]);
    assert_eq!(
        e.extra_args.get("heartbeat-interval").map(String::as_str),
        Some("50")
    );
    assert_eq!(
        e.extra_args.get("election-timeout").map(String::as_str),
        Some("500")
    );
    assert_eq!(e.peers, vec!["10.5.0.11", "10.5.0.12:2379"]);
    assert!(
        p.warnings.iter().any(|w| w.contains("cluster.etcd.image")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn talos_fields_not_acted_on_make_one_line_and_other_keys_are_errors() {
    let text = "version: v1alpha1\nmachine:\n  type: worker\n  kubelet: {image: x}\n  network:\n    interfaces:\n      - interface: eth0\n        dhcp: true\n        wireguard: {}\n";
    let p = parse(text).expect("valid");
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    for w in ["machine.kubelet", "machine.network.interfaces[0].wireguard"] {
        assert!(p.warnings[0].contains(w), "{w}: {:?}", p.warnings);
    }
    let errs = parse(&format!("{text}foo: 1\n")).expect_err("foo is no field");
    assert_eq!(errs.errors.len(), 1, "{errs:?}");
    assert_eq!(errs.errors[0].path, "foo");
    assert!(errs.errors[0]
        .reason
        .contains("known here: cluster, debug, machine"));
}

/// The typos a stock Talos config hid among its warnings: each an error
/// naming the field and what was meant.
#[test]
fn typos_are_errors_with_a_did_you_mean() {
    let cases = [
        (
            CP.replace("hostname: cp-1", "hostnmae: cp-1"),
            "machine.network.hostnmae",
            "did you mean hostname?",
        ),
        (
            format!("{CP}---\napiVersion: v1alpha1\nkind: Layer2VIPConfig\nname: 10.5.0.60\nlink: eth0\nmachined:\n  leaseTtl: 10s\n"),
            "Layer2VIPConfig[0].machined.leaseTtl",
            "did you mean leaseTTL?",
        ),
        (
            format!("{CP}---\napiVersion: v1alpha1\nkind: Layer2VIPConfg\nname: 10.5.0.60\nlink: eth0\n"),
            "document 2 (kind Layer2VIPConfg)",
            "did you mean Layer2VIPConfig?",
        ),
        (
            format!("{CP}---\napiVersion: v1alpha1\nkind: Layer2VIPConfig\nname: 10.5.0.60\nlnk: eth0\n"),
            "Layer2VIPConfig[0].lnk",
            "did you mean link?",
        ),
    ];
    for (text, path, reason) in cases {
        let errs = parse(&text).expect_err(path);
        assert!(
            errs.errors
                .iter()
                .any(|e| e.path == path && e.reason.contains(reason)),
            "{path}: {errs:?}"
        );
    }
}

#[test]
fn multi_document_layer2_vip() {
    let text = format!("{CP}---\napiVersion: v1alpha1\nkind: Layer2VIPConfig\nname: 10.5.0.60\nlink: eth0\n---\napiVersion: v1alpha1\nkind: SysctlConfig\nparams: {{}}\n");
    let p = parse(&text).expect("valid");
    assert_eq!(
        p.config.layer2_vips,
        vec![Layer2Vip {
            ip: "10.5.0.60".parse().unwrap(),
            link: "eth0".into(),
            options: Default::default(),
        }]
    );
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("documents SysctlConfig")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn one_walk_finds_every_link_and_vip_with_its_path() {
    let text = format!(
        "{CP}---\napiVersion: v1alpha1\nkind: Layer2VIPConfig\nname: 10.5.0.60\nlink: eth9\n"
    );
    let c = parse(&text).expect("valid").config;
    let links: Vec<(String, Option<u16>, usize)> = c
        .links()
        .iter()
        .map(|l| (l.path.clone(), l.vlan, l.addresses.len()))
        .collect();
    assert_eq!(
        links,
        vec![
            ("machine.network.interfaces[0]".into(), None, 1),
            ("machine.network.interfaces[0].vlans[0]".into(), Some(10), 1),
            ("machine.network.interfaces[1]".into(), None, 1),
        ]
    );
    let vips: Vec<(String, String)> = c
        .vips()
        .iter()
        .map(|v| (v.ip.to_string(), v.path.clone()))
        .collect();
    assert_eq!(
        vips,
        vec![
            (
                "10.5.0.50".into(),
                "machine.network.interfaces[0].vip.ip".into()
            ),
            (
                "192.168.10.50".into(),
                "machine.network.interfaces[0].vlans[0].vip.ip".into()
            ),
            ("10.5.0.60".into(), "Layer2VIPConfig[0].name".into()),
        ]
    );
    let names: Vec<Option<String>> = c.vips().iter().map(|v| v.link.resolve(&[])).collect();
    assert_eq!(
        names,
        vec![
            Some("eth0".into()),
            Some("eth0.10".into()),
            Some("eth9".into())
        ]
    );
}

#[test]
fn errors_name_the_field_and_reason() {
    let table: &[(&str, &str)] = &[
        ("version: v1alpha1\nmachine: {type: server}\n", "machine.type: unknown machine type"),
        ("version: v1alpha1\nmachine: {}\n", "machine.type: is required"),
        ("version: v2\nmachine: {type: worker}\n", "version: \"v2\" is not supported"),
        (
            "version: v1alpha1\nmachine:\n  type: worker\n  network:\n    interfaces:\n      - interface: eth0\n        addresses: [10.0.0.300/24]\n",
            "machine.network.interfaces[0].addresses[0]: \"10.0.0.300/24\" is not a valid CIDR",
        ),
        (
            "version: v1alpha1\nmachine:\n  type: worker\n  network:\n    interfaces:\n      - interface: eth0\n        vip: {ip: 10.0.0.50}\n",
            "machine.network.interfaces[0].vip.ip: a VIP is only allowed on a control-plane node",
        ),
        (
            "version: v1alpha1\nmachine:\n  type: controlplane\n  network:\n    interfaces:\n      - interface: eth0\n        vip: {ip: 10.0.0.5O}\n",
            "machine.network.interfaces[0].vip.ip: \"10.0.0.5O\" is not an IP address",
        ),
        (
            "version: v1alpha1\nmachine:\n  type: controlplane\n  network:\n    interfaces:\n      - interface: eth0\n        addresses: [10.0.0.5/24]\n        vip: {ip: 10.0.0.5}\n",
            "VIP 10.0.0.5 is also a node address",
        ),
        (
            "version: v1alpha1\nmachine:\n  type: controlplane\n  network:\n    interfaces:\n      - interface: eth0\n        addresses: [10.0.0.5/24]\n      - interface: eth1\n        addresses: [10.0.0.5/16]\n",
            "machine.network.interfaces[1].addresses[0]: address 10.0.0.5 is also configured at machine.network.interfaces[0].addresses[0]",
        ),
        (
            "version: v1alpha1\nmachine:\n  type: controlplane\n  network:\n    interfaces:\n      - interface: eth0\n      - interface: eth0\n",
            "machine.network.interfaces[1]: interface eth0 is already configured",
        ),
        (
            "version: v1alpha1\nmachine:\n  type: controlplane\n  network:\n    interfaces:\n      - interface: eth0\n        vip: {ip: 10.0.0.50}\n      - interface: eth1\n        vip: {ip: 10.0.0.50}\n",
            "machine.network.interfaces[1].vip.ip: VIP 10.0.0.50 is already configured",
        ),
        (
            "version: v1alpha1\nmachine:\n  type: controlplane\n  network:\n    interfaces:\n      - addresses: [10.0.0.1/24]\n",
            "machine.network.interfaces[0]: one of interface or deviceSelector is required",
        ),
        (
            "version: v1alpha1\nmachine:\n  type: controlplane\n  network:\n    interfaces:\n      - interface: eth0\n        mtu: 20\n",
            "machine.network.interfaces[0].mtu: 20 is below the minimum",
        ),
        (
            "version: v1alpha1\nmachine:\n  type: controlplane\n  network:\n    interfaces:\n      - interface: eth0\n        vlans: [{vlanId: 5000}]\n",
            "machine.network.interfaces[0].vlans[0].vlanId: 5000 is out of range",
        ),
        (
            "version: v1alpha1\nmachine:\n  type: controlplane\n  network:\n    interfaces:\n      - deviceSelector: {driver: virtio}\n",
            "machine.network.interfaces[0].deviceSelector: needs hardwareAddr or physical (driver not supported)",
        ),
        (
            "version: v1alpha1\nmachine:\n  type: controlplane\n  network: {hostname: -bad-}\n",
            "machine.network.hostname: \"-bad-\" is not a valid hostname",
        ),
        ("version: v1alpha1\nmachine:\n  type: controlplane\n  network: []\n", "machine.network: must be a mapping, not a list"),
        (
            "version: v1alpha1\nmachine: {type: controlplane}\ncluster: {controlPlane: {endpoint: 10.5.0.50:6443}}\n",
            "cluster.controlPlane.endpoint: \"10.5.0.50:6443\" must be a URL",
        ),
        ("version: v1alpha1\nmachine: {type: controlplane}\n---\nkind: Layer2VIPConfig\nname: nope\n", "Layer2VIPConfig[0].name: \"nope\" is not an IP address"),
        ("version: v1alpha1\nmachine: {type: controlplane}\n---\nkind: Layer2VIPConfig\nname: 10.0.0.9\n", "Layer2VIPConfig[0].link: is required"),
        ("machine: [\n", "document 1: is not valid YAML"),
        (
            "version: v1alpha1\nmachine: {type: controlplane}\ncluster:\n  etcd:\n    extraArgs: {name: x}\n",
            "cluster.etcd.extraArgs.name: is set by machined",
        ),
        (
            "version: v1alpha1\nmachine: {type: controlplane}\ncluster:\n  etcd:\n    advertisedSubnets: [\"!10.0.0.0/33\"]\n",
            "cluster.etcd.advertisedSubnets[0]: \"10.0.0.0/33\" is not a valid CIDR",
        ),
        (
            "version: v1alpha1\nmachine: {type: controlplane}\ncluster:\n  etcd:\n    externalEndpoints: [10.0.0.1:2379]\n",
            "cluster.etcd.externalEndpoints[0]: \"10.0.0.1:2379\" must be a URL",
        ),
        ("kind: SysctlConfig\n", "machine: no v1alpha1 document"),
    ];
    for (yaml, want) in table {
        let errs = errors_of(yaml);
        assert!(
            has(&errs, want),
            "for {yaml:?}\n want {want:?}\n got {errs:?}"
        );
    }
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let errs = errors_of(
        "version: v1alpha1\nmachine:\n  type: worker\n  network:\n    interfaces:\n      - interface: eth0\n        addresses: [bad, 10.0.0.1/33]\n        vip: {ip: 10.0.0.50}\n",
    );
    assert!(errs.len() >= 3, "{errs:?}");
}

pub(super) fn talos_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("MACHINED_TALOS_CONFIGS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/talos-configs")
        });
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").is_err(),
        "talos configs not found at {}",
        dir.display()
    );
    eprintln!(
        "SKIP: talos configs not found at {} (set MACHINED_TALOS_CONFIGS)",
        dir.display()
    );
    None
}

#[test]
fn every_shared_talos_config_loads_with_warnings() {
    let Some(dir) = talos_dir() else { return };
    let mut count = 0;
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("read dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for path in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
    {
        let mut text = std::fs::read_to_string(path).expect("read");
        // The Layer2VIPConfig fixture is a lone typed document: pair it with a
        // minimal control-plane document, as a user would.
        let full = text.contains("machine:");
        if !full {
            text = format!("version: v1alpha1\nmachine: {{type: controlplane}}\n---\n{text}");
        }
        let p = parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Talos's full configs carry much we do not support: each is named.
        assert!(
            !full || !p.warnings.is_empty(),
            "{}: expected warnings",
            path.display()
        );
        count += 1;
    }
    assert!(count >= 7, "only {count} configs found");
}

#[test]
fn talos_layer2_fixture_yields_the_vip() {
    let Some(dir) = talos_dir() else { return };
    let text = std::fs::read_to_string(dir.join("layer2vipconfig.yaml")).expect("read");
    let p = parse(&format!(
        "version: v1alpha1\nmachine: {{type: controlplane}}\n---\n{text}"
    ))
    .expect("valid");
    assert_eq!(p.config.layer2_vips.len(), 1);
    assert_eq!(p.config.layer2_vips[0].ip.to_string(), "1.2.3.4");
    assert_eq!(p.config.layer2_vips[0].link, "net0");
}
