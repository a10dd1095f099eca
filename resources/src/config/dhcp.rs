//! DHCPv4 on a link: `dhcp: true` with `dhcpOptions` on a legacy interface
//! or VLAN entry, and the `DHCPv4Config` document (Talos's field names:
//! `routeMetric`, `ignoreHostname`, `ignoreRoutes`, `clientIdentifier`,
//! `duidRaw`).

use super::model::{ClientIdentifier, DhcpDoc, DhcpOptions, LinkSelector};
use super::values::check_link_name;
use super::walk::{Diag, Obj};
use yaml_serde::Value;

/// Route metrics the kernel takes (`u32`), as Talos's `uint32` field.
const MAX_METRIC: u64 = u32::MAX as u64;

/// `dhcp` and `dhcpOptions` of an interface or VLAN entry.
pub fn legacy(o: &mut Obj<'_>, d: &mut Diag) -> (bool, DhcpOptions) {
    let dhcp = o.bool("dhcp", d).unwrap_or(false);
    let mut opts = DhcpOptions::default();
    let mut p = o.child("dhcpOptions", d);
    if let Some(m) = p.uint("routeMetric", MAX_METRIC, d) {
        opts.route_metric = m as u32;
    }
    let ipv4 = p.bool("ipv4", d);
    if ipv4 == Some(false) && dhcp {
        d.warn(
            &p.path("ipv4"),
            "ipv4: false leaves machined no DHCP to run (it has no DHCPv6 client)",
        );
    }
    if p.bool("ipv6", d) == Some(true) {
        d.warn(&p.path("ipv6"), "machined has no DHCPv6 client, ignored");
    }
    if p.string("duidv6", d).is_some() {
        d.warn(&p.path("duidv6"), "machined has no DHCPv6 client, ignored");
    }
    p.finish(d);
    (dhcp && ipv4 != Some(false), opts)
}

/// `kind: DHCPv4Config`: `name` is the link.
pub(super) struct Dhcpv4Config;

impl super::kinds::DocumentKind for Dhcpv4Config {
    fn kind(&self) -> &'static str {
        "DHCPv4Config"
    }

    fn read(&self, doc: &Value, path: &str, g: &mut super::kinds::Gathered, d: &mut Diag) {
        document(doc, path, &mut g.dhcp_docs, d)
    }
}

pub fn document(doc: &Value, path: &str, docs: &mut Vec<DhcpDoc>, d: &mut Diag) {
    let mut o = Obj::new(Some(doc), path, d);
    o.accept(&["apiVersion", "kind"]);
    let link = o.string("name", d);
    match &link {
        Some(n) => check_link_name(n, &o.path("name"), d),
        None => d.error(o.path("name"), "is required (the link's name)"),
    }
    let mut opts = DhcpOptions::default();
    if let Some(m) = o.uint("routeMetric", MAX_METRIC, d) {
        // Talos: 0 means the default.
        if m > 0 {
            opts.route_metric = m as u32;
        }
    }
    opts.ignore_hostname = o.bool("ignoreHostname", d).unwrap_or(false);
    opts.ignore_routes = o.bool("ignoreRoutes", d).unwrap_or(false);
    match o.string("clientIdentifier", d).as_deref() {
        None | Some("mac") => {}
        Some("none") => opts.client_identifier = ClientIdentifier::None,
        Some("duid") => opts.client_identifier = ClientIdentifier::Duid,
        Some(other) => d.error(
            o.path("clientIdentifier"),
            format!("{other:?} is not a client identifier (none, mac or duid)"),
        ),
    }
    if let Some(raw) = o.string("duidRaw", d) {
        match hex_bytes(&raw) {
            Some(b) => opts.duid_raw = b,
            None => d.error(
                o.path("duidRaw"),
                format!("{raw:?} is not colon-separated hex bytes (2-128 of them)"),
            ),
        }
    }
    if opts.client_identifier == ClientIdentifier::Duid && opts.duid_raw.is_empty() {
        d.error(o.path("duidRaw"), "is required with clientIdentifier: duid");
    }
    if let Some(link) = link {
        if let Some(first) = docs.iter().find(|x| x.link == link) {
            d.error(
                o.path("name"),
                format!("DHCP on {link} is already configured at {}", first.path),
            );
        }
        o.finish(d);
        docs.push(DhcpDoc {
            path: path.to_string(),
            selector: LinkSelector::Name(link.clone()),
            link,
            options: opts,
        });
    } else {
        o.finish(d);
    }
}

/// `00:01:02:...` (what Talos's `HardwareAddr` fields read).
fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    let bytes: Option<Vec<u8>> = s
        .split(':')
        .map(|p| {
            (p.len() == 2)
                .then(|| u8::from_str_radix(p, 16).ok())
                .flatten()
        })
        .collect();
    bytes.filter(|b| (2..=128).contains(&b.len()))
}

#[cfg(test)]
mod tests {
    use super::hex_bytes;
    use crate::config::{parse, ClientIdentifier, DHCP_ROUTE_METRIC};

    const MAIN: &str = "version: v1alpha1\nmachine:\n  type: controlplane\n";

    fn errors(yaml: &str) -> Vec<String> {
        match parse(yaml) {
            Ok(p) => panic!("expected errors, got {:?}", p.config),
            Err(e) => e.errors.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn legacy_dhcp_with_options_next_to_a_vip() {
        let p = parse(&format!(
            "{MAIN}  network:\n    interfaces:\n      - interface: eth0\n        dhcp: true\n        dhcpOptions: {{routeMetric: 50}}\n        vip: {{ip: 10.5.0.50}}\n      - interface: eth1\n        dhcp: true\n        dhcpOptions: {{ipv4: false}}\n"
        ))
        .expect("valid");
        let links = p.config.links();
        assert_eq!(links[0].dhcp.map(|o| o.route_metric), Some(50));
        assert!(links[1].dhcp.is_none(), "ipv4: false: no DHCPv4");
        assert!(
            p.warnings.iter().any(|w| w.contains("dhcpOptions.ipv4")),
            "{:?}",
            p.warnings
        );
        assert_eq!(p.config.vips().len(), 1);
    }

    #[test]
    fn dhcpv4config_alone_or_beside_a_linkconfig() {
        let p = parse(&format!(
            "{MAIN}---\napiVersion: v1alpha1\nkind: DHCPv4Config\nname: eth0\nrouteMetric: 0\nignoreHostname: true\nclientIdentifier: duid\nduidRaw: 00:01:00:01\n---\napiVersion: v1alpha1\nkind: LinkConfig\nname: eth1\nmtu: 9000\n---\napiVersion: v1alpha1\nkind: DHCPv4Config\nname: eth1\nclientIdentifier: none\n"
        ))
        .expect("valid");
        let links = p.config.links();
        let eth0 = links.iter().find(|l| l.name == Some("eth0")).expect("eth0");
        let o = eth0.dhcp.expect("dhcp on eth0");
        assert_eq!(o.route_metric, DHCP_ROUTE_METRIC, "0 means the default");
        assert!(o.ignore_hostname);
        assert_eq!(
            (o.client_identifier, o.duid_raw.clone()),
            (ClientIdentifier::Duid, vec![0, 1, 0, 1])
        );
        let eth1: Vec<_> = links.iter().filter(|l| l.name == Some("eth1")).collect();
        assert_eq!(eth1.len(), 1, "one entry for eth1");
        assert_eq!(eth1[0].mtu, Some(9000));
        assert_eq!(
            eth1[0].dhcp.map(|o| o.client_identifier),
            Some(ClientIdentifier::None)
        );
    }

    #[test]
    fn bad_dhcp_documents_name_the_field() {
        let doc =
            |body: &str| format!("{MAIN}---\napiVersion: v1alpha1\nkind: DHCPv4Config\n{body}");
        for (body, want) in [
            ("routeMetric: 5\n", "DHCPv4Config[0].name: is required"),
            (
                "name: eth0\nclientIdentifier: ip\n",
                "DHCPv4Config[0].clientIdentifier: \"ip\" is not",
            ),
            (
                "name: eth0\nclientIdentifier: duid\n",
                "DHCPv4Config[0].duidRaw: is required",
            ),
            (
                "name: eth0\nduidRaw: zz\n",
                "DHCPv4Config[0].duidRaw: \"zz\"",
            ),
            (
                "name: eth0\nrouteMetric: -1\n",
                "DHCPv4Config[0].routeMetric",
            ),
        ] {
            let e = errors(&doc(body));
            assert!(e.iter().any(|x| x.contains(want)), "{want}: {e:?}");
        }
        let twice = format!(
            "{}---\napiVersion: v1alpha1\nkind: DHCPv4Config\nname: eth0\n",
            doc("name: eth0\n")
        );
        assert!(errors(&twice)
            .iter()
            .any(|x| x.contains("already configured at DHCPv4Config[0]")));
        let both = format!(
            "{MAIN}  network:\n    interfaces:\n      - interface: eth0\n        dhcp: true\n---\napiVersion: v1alpha1\nkind: DHCPv4Config\nname: eth0\n"
        );
        let e = errors(&both);
        assert!(
            e.iter().any(|x| x.contains("DHCPv4Config[0].name")
                && x.contains("machine.network.interfaces[0]")),
            "{e:?}"
        );
    }

    #[test]
    fn duid_bytes() {
        assert_eq!(hex_bytes("00:01:ab"), Some(vec![0, 1, 0xab]));
        for bad in ["", "0", "00", "00:1", "00:zz", "00::01"] {
            assert_eq!(hex_bytes(bad), None, "{bad}");
        }
    }
}
