//! Resource definitions: names, aliases, print columns, sensitivity.

use crate::resource::ResourceSpec;
use crate::types::*;

/// A table column: header and a JSON pointer into the spec.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub pointer: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub struct Definition {
    pub type_: &'static str,
    pub namespace: &'static str,
    pub aliases: &'static [&'static str],
    pub columns: &'static [Column],
    /// Readable by admins only.
    pub sensitive: bool,
}

const fn col(name: &'static str, pointer: &'static str) -> Column {
    Column { name, pointer }
}

const fn def<T: ResourceSpec>(
    aliases: &'static [&'static str],
    columns: &'static [Column],
    sensitive: bool,
) -> Definition {
    Definition {
        type_: T::TYPE,
        namespace: T::NAMESPACE,
        aliases,
        columns,
        sensitive,
    }
}

static DEFINITIONS: &[Definition] = &[
    def::<MachineConfigSpec>(
        &["machineconfig", "machineconfigs", "mc"],
        &[col("MACHINE TYPE", "/config/machineType")],
        true,
    ),
    def::<LinkStatus>(
        &["links", "link", "linkstatus", "linkstatuses"],
        &[
            col("TYPE", "/type"),
            col("KIND", "/kind"),
            col("HW ADDR", "/hardwareAddr"),
            col("OPER STATE", "/operState"),
            col("MTU", "/mtu"),
            col("ALIAS", "/alias"),
        ],
        false,
    ),
    def::<HostnameSpec>(
        &["hostnamespec", "hostnamespecs"],
        &[
            col("HOSTNAME", "/hostname"),
            col("DOMAIN", "/domainname"),
            col("SOURCE", "/source"),
        ],
        false,
    ),
    def::<HostnameStatus>(
        &[
            "hostname",
            "hostnames",
            "hostnamestatus",
            "hostnamestatuses",
        ],
        &[
            col("HOSTNAME", "/hostname"),
            col("DOMAIN", "/domainname"),
            col("SOURCE", "/source"),
            col("NOTE", "/note"),
        ],
        false,
    ),
    def::<LinkSpec>(
        &["linkspecs", "linkspec"],
        &[col("UP", "/up"), col("MTU", "/mtu"), col("LAYER", "/layer")],
        false,
    ),
    def::<AddressSpec>(
        &["addressspecs", "addressspec"],
        &[
            col("ADDRESS", "/address"),
            col("LINK", "/link"),
            col("LAYER", "/layer"),
        ],
        false,
    ),
    def::<AddressStatus>(
        &["addresses", "address", "addressstatus", "addressstatuses"],
        &[
            col("ADDRESS", "/address"),
            col("LINK", "/link"),
            col("SCOPE", "/scope"),
            col("OURS", "/ours"),
        ],
        false,
    ),
    def::<RouteSpec>(
        &["routespecs", "routespec"],
        &[
            col("DESTINATION", "/destination"),
            col("GATEWAY", "/gateway"),
            col("LINK", "/link"),
            col("METRIC", "/metric"),
        ],
        false,
    ),
    def::<RouteStatus>(
        &["routes", "route", "routestatus", "routestatuses"],
        &[
            col("DESTINATION", "/destination"),
            col("GATEWAY", "/gateway"),
            col("LINK", "/link"),
            col("METRIC", "/metric"),
            col("OURS", "/ours"),
        ],
        false,
    ),
    def::<AnnounceStatus>(
        &["announcestatus", "announcements"],
        &[
            col("IP", "/ip"),
            col("LINK", "/link"),
            col("LAST", "/last"),
            col("FRAMES", "/frames"),
        ],
        false,
    ),
    def::<DhcpSpec>(
        &["dhcpspec", "dhcpspecs"],
        &[col("LINK", "/link"), col("METRIC", "/options/routeMetric")],
        false,
    ),
    def::<DhcpStatus>(
        &["dhcpstatus", "dhcpstatuses", "dhcp"],
        &[
            col("LINK", "/link"),
            col("STATE", "/state"),
            col("ADDRESS", "/address"),
            col("SERVER", "/server"),
            col("LEASE", "/leaseSecs"),
            col("RENEW AT", "/renewAt"),
            col("EXPIRES", "/expiresAt"),
            col("LAST ERROR", "/lastError"),
        ],
        false,
    ),
    def::<VipSpec>(
        &["vipspecs", "vipspec"],
        &[
            col("IP", "/ip"),
            col("LINK", "/link"),
            col("GROUP", "/options/group"),
            col("LEASE TTL", "/options/leaseTtlSecs"),
        ],
        false,
    ),
    def::<VipStatus>(
        &["vipstatus", "vipstatuses", "vips", "vip"],
        &[
            col("IP", "/ip"),
            col("LINK", "/link"),
            col("GROUP", "/group"),
            col("HOLDER", "/holder"),
            col("HOLDING", "/holding"),
            col("SINCE", "/since"),
            col("TRANSITIONS", "/transitions"),
            col("LAST ANNOUNCE", "/lastAnnounce"),
            col("HEALTH", "/health"),
            col("PINNED", "/pinned"),
        ],
        false,
    ),
    def::<EtcdLeft>(&["etcdleft"], &[col("SINCE", "/since")], false),
    def::<VipForfeit>(
        &["vipforfeit", "vipforfeits"],
        &[col("IP", "/ip"), col("UNTIL", "/until")],
        false,
    ),
    def::<VipMove>(
        &["vipmove", "vipmoves"],
        &[
            col("IP", "/ip"),
            col("TO", "/to"),
            col("SEQ", "/seq"),
            col("REQUESTED", "/requested"),
        ],
        false,
    ),
    def::<VipPin>(
        &["vippin", "vippins"],
        &[
            col("IP", "/ip"),
            col("BY", "/by"),
            col("AT", "/at"),
            col("SEQ", "/seq"),
        ],
        false,
    ),
    def::<VipHealthStatus>(
        &["viphealthstatus", "viphealthstatuses", "viphealth"],
        &[
            col("IP", "/ip"),
            col("CHECK", "/check"),
            col("STATE", "/state"),
            col("LAST RESULT", "/lastResult"),
            col("STREAK", "/streak"),
            col("SINCE", "/since"),
            col("CHANGES", "/changes"),
        ],
        false,
    ),
    def::<EtcdSpec>(
        &["etcdspec", "etcdspecs"],
        &[
            col("NAME", "/name"),
            col("ADVERTISE", "/advertiseIp"),
            col("EXTERNAL", "/externalEndpoints"),
        ],
        false,
    ),
    def::<EtcdStatus>(
        &["etcdstatus", "etcdstatuses", "etcd"],
        &[
            col("PHASE", "/phase"),
            col("MEMBER ID", "/memberId"),
            col("LEADER", "/leaderName"),
            col("MEMBERS", "/members"),
            col("RESTARTS", "/restarts"),
            col("LAST ERROR", "/lastError"),
        ],
        false,
    ),
    def::<ApiCerts>(&["apicerts"], &[col("SANS", "/sans")], true),
    def::<EtcdCerts>(&["etcdcerts"], &[col("SANS", "/sans")], true),
    def::<EtcdBootstrap>(&["etcdbootstrap"], &[col("REQUESTED", "/requested")], false),
];

pub fn definitions() -> &'static [Definition] {
    DEFINITIONS
}

/// Finds a definition by type name or alias, case-insensitively.
pub fn lookup(name: &str) -> Option<&'static Definition> {
    let n = name.to_ascii_lowercase();
    DEFINITIONS
        .iter()
        .find(|d| d.type_.to_ascii_lowercase() == n || d.aliases.contains(&n.as_str()))
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod columns;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_resolve() {
        assert_eq!(lookup("addresses").map(|d| d.type_), Some("AddressStatus"));
        assert_eq!(lookup("AddressSpecs").map(|d| d.type_), Some("AddressSpec"));
        assert_eq!(lookup("links").map(|d| d.type_), Some("LinkStatus"));
        assert!(lookup("machineconfig").is_some_and(|d| d.sensitive));
        assert!(lookup("nosuch").is_none());
    }

    #[test]
    fn names_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for d in definitions() {
            let own = d.type_.to_ascii_lowercase();
            assert!(seen.insert(own.clone()), "{}", d.type_);
            for a in d.aliases.iter().filter(|a| **a != own) {
                assert!(seen.insert(a.to_string()), "alias {a} used twice");
            }
        }
    }
}
