//! The harness's user-space VLAN interface (`vlan_port`), which the qemu
//! tests use on the LAN side because this host's kernel has no 8021q: two
//! ports of VLAN 100 on one bridge (in two namespaces) reach each other;
//! in a third namespace on the bridge, neither a port of VLAN 200 nor an
//! untagged interface answers for VLAN 100's subnet.

use machined_tests::netns::{veth, Netns};
use machined_tests::vlan_port::VlanPort;
use machined_tests::{require_root, wait_for, PATIENCE};

#[test]
fn vlan_ports_reach_their_own_vlan_only() {
    if !require_root("VLAN ports on a bridge") {
        return;
    }
    let a = Netns::new("vpa");
    let b = Netns::new("vpb");
    let c = Netns::new("vpc");
    // One bridge in `a`; `b` hangs off it by a veth that is also a bridge
    // port there, so b's frames cross a's bridge tagged.
    a.ip(&["link", "add", "br0", "type", "bridge"]);
    b.ip(&["link", "add", "br0", "type", "bridge"]);
    c.ip(&["link", "add", "br0", "type", "bridge"]);
    veth(&a, "up0", &b, "down0");
    veth(&a, "up1", &c, "down0");
    a.ip(&["link", "set", "up0", "master", "br0"]);
    a.ip(&["link", "set", "up1", "master", "br0"]);
    b.ip(&["link", "set", "down0", "master", "br0"]);
    c.ip(&["link", "set", "down0", "master", "br0"]);
    for (ns, dev) in [
        (&a, "br0"),
        (&a, "up0"),
        (&a, "up1"),
        (&b, "br0"),
        (&b, "down0"),
        (&c, "br0"),
        (&c, "down0"),
    ] {
        ns.ip(&["link", "set", dev, "up"]);
    }
    a.ip(&["addr", "add", "10.99.0.1/24", "dev", "br0"]);
    let pa = VlanPort::start(&a.name, "br0", "v100", 100).expect("port a");
    let pb = VlanPort::start(&b.name, "br0", "v100", 100).expect("port b");
    let pc = VlanPort::start(&c.name, "br0", "v200", 200).expect("port c");
    a.ip(&["addr", "add", "10.100.0.1/24", "dev", "v100"]);
    b.ip(&["addr", "add", "10.100.0.2/24", "dev", "v100"]);
    // New bridge ports may take a moment to forward.
    wait_for("VLAN 100 to VLAN 100", PATIENCE, || {
        a.ping("10.100.0.2").then_some(())
    });
    assert!(b.ping("10.100.0.1"), "and back");
    // VLAN 200 with an address on VLAN 100's subnet: not reachable.
    c.ip(&["addr", "add", "10.100.0.3/24", "dev", "v200"]);
    for _ in 0..3 {
        assert!(!a.ping("10.100.0.3"), "VLAN 100 reached a VLAN 200 port");
    }
    // The untagged bridge address does not answer for VLAN 100's subnet:
    // nothing leaks out untagged.
    c.ip(&["addr", "add", "10.100.0.4/24", "dev", "br0"]);
    assert!(c.ping("10.100.0.3"), "c's own addresses answer inside c");
    assert!(
        !a.ping("10.100.0.4"),
        "a tagged frame reached an untagged interface"
    );
    drop((pa, pb, pc));
    let links = b.ip(&["-o", "link", "show"]);
    assert!(
        !links.contains("v100"),
        "the TAPs stay after the port is dropped: {links}"
    );
}
