//! `group:` on a VIP, in both styles, and the rule that a group's members
//! share their options.

use super::*;

const BASE: &str = r#"
version: v1alpha1
machine:
  type: controlplane
  network:
    interfaces:
      - interface: eth0
        addresses: [10.5.0.11/24, "fd00::11/64"]
        vip:
          ip: 10.5.0.50
          group: api
cluster:
  controlPlane:
    endpoint: https://10.5.0.50:6443
"#;

fn with_l2(extra: &str) -> String {
    format!("{BASE}---\napiVersion: v1alpha1\nkind: Layer2VIPConfig\nname: fd00::50\nlink: eth0\n{extra}")
}

fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(p) => panic!("expected errors, got {:?}", p.config.vips()),
        Err(e) => e.errors.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn a_group_on_the_legacy_vip_and_on_a_layer2_document() {
    let p = parse(&with_l2("group: api\n")).expect("valid");
    let groups: Vec<_> = p
        .config
        .vips()
        .iter()
        .map(|v| (v.ip.to_string(), v.options.group.clone()))
        .collect();
    assert_eq!(
        groups,
        vec![
            ("10.5.0.50".to_string(), Some("api".to_string())),
            ("fd00::50".to_string(), Some("api".to_string())),
        ]
    );
    // Without `group:`, a VIP is a group of one.
    let p = parse(&with_l2("")).expect("valid");
    assert_eq!(p.config.vips()[1].options.group, None);
}

#[test]
fn bad_group_names_are_refused_naming_the_field() {
    let long = "a".repeat(64);
    for bad in ["Api", "-api", "api-", "a/b", "", long.as_str()] {
        let e = errors(&with_l2(&format!("group: {bad:?}\n")));
        assert!(
            e.iter().any(|e| e.contains("Layer2VIPConfig")
                && e.contains("group")
                && e.contains("not a valid VIP group name")),
            "{bad:?}: {e:?}"
        );
        // A long name is not echoed back.
        assert!(e.iter().all(|e| !e.contains(&long)), "{e:?}");
    }
    let e = errors(&BASE.replace("group: api", "group: [x]"));
    assert!(
        e.iter()
            .any(|e| e.contains("vip.group") && e.contains("must be a string")),
        "{e:?}"
    );
}

#[test]
fn members_of_a_group_share_their_options() {
    let e = errors(&with_l2("group: api\nmachined:\n  priority: 5\n"));
    assert!(
        e.iter().any(|e| e.contains("Layer2VIPConfig[0].group")
            && e.contains("differ")
            && e.contains("machine.network.interfaces[0].vip.group")),
        "{e:?}"
    );
    // The same options in another group, or none, are fine.
    parse(&with_l2("group: ingress\nmachined:\n  priority: 5\n")).expect("another group");
    parse(&with_l2("machined:\n  priority: 5\n")).expect("no group");
}
