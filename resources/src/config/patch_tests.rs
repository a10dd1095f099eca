//! Talos's own patch examples (pkg/machinery/config/configpatcher/testdata),
//! checked on the fields they change.

use super::*;

fn run(config: &str, patches: &[&str]) -> Result<Vec<Value>, PatchError> {
    let loaded: Vec<Patch> = patches.iter().map(|p| load(p)).collect::<Result<_, _>>()?;
    Ok(documents(&apply(config, &loaded)?).unwrap())
}

fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| match k.parse::<usize>() {
        Ok(i) => &v[i],
        Err(_) => &v[k],
    })
}

fn yaml(s: &str) -> Value {
    yaml_serde::from_str(s).unwrap()
}

const APPLY_CONFIG: &str = "version: v1alpha1\nmachine:\n  network:\n    hostname: hostname1\n    interfaces:\n      - interface: eth0\n        dhcp: true\ncluster:\n  proxy:\n    extraArgs:\n       metrics-bind-address: $(POD_IP):10249\n       foo: bar\n";

#[test]
fn talos_apply_example() {
    let strategic1 =
        "machine:\n  network:\n    interfaces:\n      - interface: eth0\n        dhcp: false\n";
    let strategic2 = "machine:\n  network:\n    interfaces:\n      - interface: eth0\n        vip:\n          ip: 10.3.5.6\n      - interface: eth1\n        vlans:\n          - vlanId: 100\n            addresses: [10.3.4.5]\n";
    let strategic3 = "machine:\n  network:\n    interfaces:\n      - interface: eth1\n        vlans:\n          - vlanId: 100\n            addresses: [10.3.4.6]\n          - vlanId: 101\n            addresses: [10.3.4.7]\ncluster:\n  proxy:\n    extraArgs:\n       metrics-bind-address: $(POD_IP):10249\n       foo:\n         $patch: delete\n";
    let json1 = "- op: add\n  path: /machine/network/interfaces/0/addresses\n  value:\n     - 10.1.2.3/24\n";
    let json2 = "- op: replace\n  path: /machine/network/hostname\n  value: foo\n";
    let out = run(
        APPLY_CONFIG,
        &[strategic1, strategic2, strategic3, json1, json2],
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    let d = &out[0];
    assert_eq!(at(d, "machine.network.hostname"), &yaml("foo"));
    let ifaces = at(d, "machine.network.interfaces");
    assert_eq!(
        ifaces,
        &yaml("- interface: eth0\n  dhcp: false\n  vip: {ip: 10.3.5.6}\n  addresses: [10.1.2.3/24]\n- interface: eth1\n  vlans:\n    - {vlanId: 100, addresses: [10.3.4.5, 10.3.4.6]}\n    - {vlanId: 101, addresses: [10.3.4.7]}\n")
    );
    assert_eq!(
        at(d, "cluster.proxy.extraArgs"),
        &yaml("metrics-bind-address: $(POD_IP):10249")
    );
}

const MULTIDOC: &str = "version: v1alpha1\nmachine:\n  network:\n    hostname: hostname1\n    interfaces:\n      - interface: eth0\n        dhcp: true\n      - interface: eth1\n        addresses: [10.3.5.4/32]\n---\napiVersion: v1alpha1\nkind: SideroLinkConfig\napiUrl: https://siderolink.api/join?jointoken=secret&user=alice\n---\napiVersion: v1alpha1\nkind: ExtensionServiceConfig\nname: foo\nconfigFiles:\n    - content: hello\n      mountPath: /etc/foo\nenvironment:\n    - FOO=BAR\n";

#[test]
fn talos_multidoc_example() {
    let patch = "apiVersion: v1alpha1\nkind: SideroLinkConfig\napiUrl: https://siderolink.api/join?jointoken=secret&user=bob\n---\napiVersion: v1alpha1\nkind: ExtensionServiceConfig\nname: foo\nenvironment:\n    - XXX=YYY\n---\napiVersion: v1alpha1\nkind: KubeFlannelCNIConfig\n$patch: delete\n---\napiVersion: v1alpha1\nkind: HostnameConfig\nhostname: new-doc\n";
    let out = run(MULTIDOC, &[patch]).unwrap();
    assert_eq!(
        out.len(),
        4,
        "an unmatched document is added; deleting an absent one is nothing"
    );
    assert_eq!(
        at(&out[1], "apiUrl"),
        &yaml("https://siderolink.api/join?jointoken=secret&user=bob")
    );
    assert_eq!(at(&out[2], "environment"), &yaml("[FOO=BAR, XXX=YYY]"));
    assert_eq!(at(&out[3], "hostname"), &yaml("new-doc"));
    let json =
        "- op: add\n  path: /machine/network/interfaces/0/addresses\n  value: [10.1.2.3/24]\n";
    let err = run(MULTIDOC, &[json]).unwrap_err().to_string();
    assert!(
        err.contains("a JSON 6902 patch cannot change a multi-document machine config")
            && err.contains("strategic merge"),
        "{err}"
    );
}

#[test]
fn talos_patchdelete_example() {
    let patch = "apiVersion: v1alpha1\nkind: SideroLinkConfig\n$patch: delete\n---\napiVersion: v1alpha1\nkind: ExtensionServiceConfig\nname: foo\nconfigFiles:\n  - content: hello\n    $patch: delete\n  - content: hello2\n    mountPath: /etc/foo2\n---\nversion: v1alpha1\nmachine:\n  network:\n    hostname:\n      $patch: delete\n    interfaces:\n      - interface: eth0\n        $patch: delete\n      - interface: eth1\n        addresses: [10.3.5.5/32]\n      - interface: eth0\n        dummy: true\n";
    let out = run(MULTIDOC, &[patch]).unwrap();
    assert_eq!(out.len(), 2, "SideroLinkConfig deleted");
    let main = &out[0];
    assert_eq!(at(main, "machine.network.hostname"), &Value::Null);
    assert_eq!(
        at(main, "machine.network.interfaces"),
        &yaml("- {interface: eth1, addresses: [10.3.5.4/32, 10.3.5.5/32]}\n- {interface: eth0, dummy: true}\n")
    );
    assert_eq!(
        at(&out[1], "configFiles"),
        &yaml("- {content: hello2, mountPath: /etc/foo2}")
    );
}

#[test]
fn merge_by_device_selector_and_replaced_lists() {
    let config = "version: v1alpha1\nmachine:\n  network:\n    interfaces:\n      - deviceSelector: {hardwareAddr: '52:54:*'}\n        addresses: [10.0.0.1/24]\ncluster:\n  network:\n    podSubnets: [10.244.0.0/16]\n";
    let patch = "machine:\n  network:\n    interfaces:\n      - deviceSelector: {hardwareAddr: '52:54:*'}\n        vip: {ip: 10.0.0.50}\ncluster:\n  network:\n    podSubnets: [10.42.0.0/16]\n";
    let d = &run(config, &[patch]).unwrap()[0];
    assert_eq!(
        at(d, "machine.network.interfaces"),
        &yaml("- deviceSelector: {hardwareAddr: '52:54:*'}\n  addresses: [10.0.0.1/24]\n  vip: {ip: 10.0.0.50}\n")
    );
    assert_eq!(at(d, "cluster.network.podSubnets"), &yaml("[10.42.0.0/16]"));
}

#[test]
fn bad_patches_say_why() {
    let cases: &[(&str, &str)] = &[
        (
            "machine: [1, 2]\n",
            "cannot merge at machine: a mapping in the config, a list in the patch",
        ),
        (
            "machine:\n  network:\n    interfaces:\n      - $patch: delete\n",
            "a list element needs a key besides $patch",
        ),
        (
            "- op: remove\n  path: /machine/nosuch\n",
            "applying the JSON 6902 patch to the machine config failed: ",
        ),
        ("machine: {\n", "patch is not valid YAML"),
        (
            "machine:\n  certSANs:\n    - a: {b: {$patch: delete}}\n",
            "inside a list element only where the list is merged by key",
        ),
    ];
    for (patch, want) in cases {
        let e = run(APPLY_CONFIG, &[patch]).unwrap_err();
        let err = crate::error::chain(&e).to_string();
        assert!(err.contains(want), "{patch:?}: {err}");
    }
    let deep = format!("machine: {}\n", "[".repeat(100));
    let err = run(APPLY_CONFIG, &[&deep]).unwrap_err().to_string();
    assert!(err.contains("patch: "), "{err}");
}

#[test]
fn deletes_inside_elements_of_lists_merged_by_key() {
    let config = "version: v1alpha1\nmachine:\n  network:\n    interfaces:\n      - interface: eth0\n        addresses: [10.0.0.1/24]\n        vip:\n          ip: 10.0.0.50\n          machined:\n            leaseTTL: 5s\n            healthCheck: {tcp: {endpoint: '127.0.0.1:6443'}}\n        vlans:\n          - vlanId: 10\n            addresses: [10.1.0.1/24]\n            vip: {ip: 10.1.0.50}\n          - vlanId: 20\n            vip: {ip: 10.2.0.50}\n      - interface: eth1\n        vip:\n          ip: 10.9.0.50\n          machined: {healthCheck: {tcp: {endpoint: '127.0.0.1:1'}}}\n";
    // A section inside interface eth0 only; eth1's stays.
    let out = run(
        config,
        &["machine:\n  network:\n    interfaces:\n      - interface: eth0\n        vip:\n          machined:\n            healthCheck:\n              $patch: delete\n"],
    )
    .unwrap();
    let d = &out[0];
    assert_eq!(
        at(d, "machine.network.interfaces.0.vip.machined"),
        &yaml("leaseTTL: 5s\n")
    );
    assert!(!at(d, "machine.network.interfaces.1.vip.machined.healthCheck").is_null());
    // A VLAN's VIP inside eth0, and a whole VLAN element; deleting and
    // adding in one patch (deletions first).
    let out = run(
        config,
        &["machine:\n  network:\n    interfaces:\n      - interface: eth0\n        vlans:\n          - vlanId: 10\n            vip: {$patch: delete}\n          - vlanId: 20\n            $patch: delete\n          - vlanId: 30\n            dhcp: true\n"],
    )
    .unwrap();
    let vlans = at(&out[0], "machine.network.interfaces.0.vlans");
    assert_eq!(
        vlans,
        &yaml("- vlanId: 10\n  addresses: [10.1.0.1/24]\n- vlanId: 30\n  dhcp: true\n")
    );
    // An interface the config does not have: nothing to delete, no error.
    let out = run(
        config,
        &["machine:\n  network:\n    interfaces:\n      - interface: eth9\n        vip: {$patch: delete}\n"],
    )
    .unwrap();
    assert_eq!(
        at(&out[0], "machine.network.interfaces.2.interface"),
        &yaml("eth9")
    );
    assert!(at(&out[0], "machine.network.interfaces.2.vip").is_null());
}
