//! `LinkAliasConfig`: Talos's examples, refused documents, and the
//! assignment rules (order, patterns, one alias per link, physical only).

use super::link_alias::{assign, check};
use super::*;
use crate::types::LinkStatus;
use crate::{Metadata, Typed};

const MAIN: &str = "version: v1alpha1\nmachine:\n  type: controlplane\n";

fn aliases(docs: &[(&str, &str)]) -> Vec<LinkAlias> {
    let mut text = MAIN.to_string();
    for (name, expr) in docs {
        text.push_str(&format!(
            "---\napiVersion: v1alpha1\nkind: LinkAliasConfig\nname: {name}\nselector:\n    match: {}\n",
            serde_json::to_string(expr).unwrap()
        ));
    }
    parse(&text)
        .unwrap_or_else(|e| panic!("{text}\n{e}"))
        .config
        .link_aliases
}

fn errors(text: &str) -> Vec<String> {
    match parse(&format!(
        "{MAIN}---\napiVersion: v1alpha1\nkind: LinkAliasConfig\n{text}"
    )) {
        Ok(p) => panic!("expected errors, got {:?}", p.config.link_aliases),
        Err(e) => e.errors.iter().map(|e| e.to_string()).collect(),
    }
}

fn link(mac: &str, perm: &str, kind: &str, driver: &str) -> LinkStatus {
    LinkStatus {
        link_type: "ether".into(),
        kind: kind.into(),
        hardware_addr: mac.parse().unwrap(),
        permanent_addr: perm.parse().unwrap(),
        driver: driver.into(),
        mtu: 1500,
        ..Default::default()
    }
}

fn lab() -> Vec<(String, LinkStatus)> {
    vec![
        (
            "enp0s3".into(),
            link("52:54:00:00:00:03", "00:1a:2b:3c:4d:5e", "", "e1000e"),
        ),
        (
            "enp0s2".into(),
            link("52:54:00:00:00:02", "", "", "virtio_net"),
        ),
        (
            "enp0s1".into(),
            link("52:54:00:00:00:01", "", "", "virtio_net"),
        ),
        ("veth0".into(), link("52:54:00:00:00:00", "", "veth", "")),
    ]
}

fn assigned(docs: &[(&str, &str)]) -> Vec<(String, String)> {
    assign(&aliases(docs), &lab()).aliases.into_iter().collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn talos_testdata_parses() {
    let a = aliases(&[("net0", "mac(link.permanent_addr) == \"00:1a:2b:3c:4d:5e\"")]);
    assert_eq!(a.len(), 1);
    assert_eq!(
        (a[0].name.as_str(), a[0].path.as_str()),
        ("net0", "LinkAliasConfig[0]")
    );
}

#[test]
fn assignment_follows_talos_rules() {
    type Pairs<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(Pairs, Pairs)] = &[
        // Talos's documented selectors.
        (
            &[("net0", "mac(link.permanent_addr) == \"00:1a:2b:3c:4d:5e\"")],
            &[("enp0s3", "net0")],
        ),
        (
            &[("net0", "glob(\"00:1a:2b:*\", mac(link.permanent_addr))")],
            &[("enp0s3", "net0")],
        ),
        (
            &[("lan", "link.driver == \"e1000e\"")],
            &[("enp0s3", "lan")],
        ),
        // A fixed name matching two links is given to none.
        (&[("virt", "link.driver == \"virtio_net\"")], &[]),
        // A pattern counts in hardware-address order (permanent first).
        (
            &[("net%d", "link.type == \"ether\"")],
            &[("enp0s1", "net1"), ("enp0s2", "net2"), ("enp0s3", "net0")],
        ),
        // Names in order; a link keeps the first alias it gets.
        (
            &[("b%d", "true"), ("a", "link.driver == \"e1000e\"")],
            &[("enp0s1", "b0"), ("enp0s2", "b1"), ("enp0s3", "a")],
        ),
        // Virtual links never get one.
        (
            &[("v", "mac(link.hardware_addr) == \"52:54:00:00:00:00\"")],
            &[],
        ),
        // Matching the current MAC works too.
        (
            &[("two", "mac(link.hardware_addr) == \"52:54:00:00:00:02\"")],
            &[("enp0s2", "two")],
        ),
        (&[("none", "false")], &[]),
    ];
    for (docs, want) in cases {
        assert_eq!(assigned(docs), pairs(want), "{docs:?}");
    }
}

#[test]
fn a_failing_or_non_boolean_selector_assigns_nothing_and_says_why() {
    let a = assign(
        &aliases(&[("x", "link.nope == 1"), ("y", "link.mtu")]),
        &lab(),
    );
    assert!(a.aliases.is_empty());
    assert!(a
        .warnings
        .iter()
        .any(|w| w.contains("LinkAliasConfig[0]") && w.contains("nope")));
    assert!(a
        .warnings
        .iter()
        .any(|w| w.contains("LinkAliasConfig[1]") && w.contains("not a boolean")));
}

#[test]
fn bad_documents_are_refused_naming_the_field() {
    let cases = [
        (
            "selector:\n  match: \"true\"\n",
            "LinkAliasConfig[0].name: is required",
        ),
        (
            "name: net0\n",
            "LinkAliasConfig[0].selector.match: is required",
        ),
        (
            "name: net0\nselector:\n  match: \"1 +\"\n",
            "not a valid CEL expression",
        ),
        (
            "name: '%d'\nselector:\n  match: \"true\"\n",
            "a pattern takes one %d",
        ),
        (
            "name: net%s\nselector:\n  match: \"true\"\n",
            "a pattern takes one %d",
        ),
        (
            "name: net%d%d\nselector:\n  match: \"true\"\n",
            "a pattern takes one %d",
        ),
        (
            "name: a-very-long-alias-name\nselector:\n  match: \"true\"\n",
            "not a valid link name",
        ),
    ];
    for (doc, want) in cases {
        let e = errors(doc);
        assert!(e.iter().any(|x| x.contains(want)), "{doc}: {e:?}");
    }
    let twice = format!(
        "{MAIN}---\nkind: LinkAliasConfig\nname: a\nselector: {{match: \"true\"}}\n---\nkind: LinkAliasConfig\nname: a\nselector: {{match: \"false\"}}\n"
    );
    let e = parse(&twice).unwrap_err();
    assert!(e.errors.iter().any(|x| x.path == "LinkAliasConfig[1].name"
        && x.reason.contains("also defined at LinkAliasConfig[0]")));
}

#[test]
fn hostile_expressions_are_bounded_not_fatal() {
    for expr in [
        format!("{}true{}", "(".repeat(500), ")".repeat(500)),
        format!("{}1{}", "[".repeat(300), "]".repeat(300)),
        vec!["true ? true"; 100].join(" : ") + " : false",
        format!("{}true", "!".repeat(900)),
        "true || ".repeat(200) + "true",
    ] {
        // Parsed on its own thread: refused or accepted, never a crash.
        let r = check(&expr);
        if expr.len() > link_alias::MAX_EXPR_LEN {
            assert!(r.unwrap_err().contains("more than the 1024 allowed"));
        }
    }
    assert!(check(&format!("{}true{}", "(".repeat(40), ")".repeat(40))).is_err());
    assert!(check("link.alt_names.exists(n, n.startsWith(\"enx\"))").is_ok());
}

#[test]
fn an_alias_or_alternative_name_names_the_link_in_the_config() {
    let text = format!(
        "{MAIN}---\napiVersion: v1alpha1\nkind: LinkConfig\nname: net0\naddresses: [{{address: 10.0.0.2/24}}]\n---\napiVersion: v1alpha1\nkind: Layer2VIPConfig\nname: 10.0.0.50\nlink: uplink\n"
    );
    let c = parse(&text).unwrap().config;
    let status = |id: &str, alias: &str, alt: &[&str]| Typed {
        metadata: Metadata::new("network", "LinkStatus", id, "test"),
        spec: LinkStatus {
            alias: alias.into(),
            alt_names: alt.iter().map(|s| s.to_string()).collect(),
            ..link("52:54:00:00:00:01", "", "", "")
        },
    };
    let links = vec![
        status("enp0s1", "net0", &[]),
        status("enp0s2", "", &["uplink"]),
    ];
    assert_eq!(c.links()[0].resolve(&links).as_deref(), Some("enp0s1"));
    assert_eq!(c.vips()[0].link.resolve(&links).as_deref(), Some("enp0s2"));
    // Before any link answers to it, the name is taken as a kernel name.
    assert_eq!(c.links()[0].resolve(&[]).as_deref(), Some("net0"));
}
