//! Layer-2 frames: gratuitous ARP and unsolicited neighbour advertisements
//! (built with pnet_packet), ARP probes and replies, DAD-style neighbour
//! solicitations. The socket they travel on is [`PacketSocket`].

use pnet_base::MacAddr;
use pnet_packet::arp::{
    ArpHardwareTypes, ArpOperation, ArpOperations, ArpPacket, MutableArpPacket,
};
use pnet_packet::ethernet::{EtherTypes, EthernetPacket, MutableEthernetPacket};
use pnet_packet::icmpv6::ndp::{
    MutableNeighborAdvertPacket, MutableNeighborSolicitPacket, NdpOption, NdpOptionTypes,
    NeighborAdvertFlags, NeighborAdvertPacket,
};
use pnet_packet::icmpv6::{self, Icmpv6Packet, Icmpv6Types};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv6::{Ipv6Packet, MutableIpv6Packet};
use pnet_packet::Packet;
use std::net::{Ipv4Addr, Ipv6Addr};

pub use super::socket::PacketSocket;
pub use machined_resources::mac::{format_mac, parse_mac, Mac};

const ETH_HDR: usize = 14;
const ARP_LEN: usize = 28;

fn pnet_mac(m: Mac) -> MacAddr {
    MacAddr::new(m[0], m[1], m[2], m[3], m[4], m[5])
}

fn arp_frame(
    src: Mac,
    dst: Mac,
    op: ArpOperation,
    sha: Mac,
    spa: Ipv4Addr,
    tha: Mac,
    tpa: Ipv4Addr,
) -> Vec<u8> {
    let mut buf = vec![0u8; ETH_HDR + ARP_LEN];
    {
        let mut eth = MutableEthernetPacket::new(&mut buf).expect("buffer fits ethernet");
        eth.set_destination(pnet_mac(dst));
        eth.set_source(pnet_mac(src));
        eth.set_ethertype(EtherTypes::Arp);
    }
    let mut arp = MutableArpPacket::new(&mut buf[ETH_HDR..]).expect("buffer fits arp");
    arp.set_hardware_type(ArpHardwareTypes::Ethernet);
    arp.set_protocol_type(EtherTypes::Ipv4);
    arp.set_hw_addr_len(6);
    arp.set_proto_addr_len(4);
    arp.set_operation(op);
    arp.set_sender_hw_addr(pnet_mac(sha));
    arp.set_sender_proto_addr(spa);
    arp.set_target_hw_addr(pnet_mac(tha));
    arp.set_target_proto_addr(tpa);
    buf
}

const BROADCAST: Mac = [0xff; 6];

/// Gratuitous ARP for `ip` at `src`: a broadcast request (target =
/// sender, RFC 5227's announcement) and a broadcast reply whose target
/// hardware address is the sender's. Linux takes both as gratuitous
/// (`arp_is_garp`), so a cache entry moves at once even inside its
/// `locktime`, where an ordinary reply would be ignored.
pub fn gratuitous_arp(src: Mac, ip: Ipv4Addr) -> [Vec<u8>; 2] {
    [
        arp_frame(src, BROADCAST, ArpOperations::Request, src, ip, [0; 6], ip),
        arp_frame(src, BROADCAST, ArpOperations::Reply, src, ip, src, ip),
    ]
}

/// The ARP reply `src` sends for `ip` to the station (`to_mac`, `to_ip`)
/// that asked: unicast, as the kernel answers (`to_ip` is 0.0.0.0 for a
/// probe).
pub fn arp_reply(src: Mac, ip: Ipv4Addr, to_mac: Mac, to_ip: Ipv4Addr) -> Vec<u8> {
    arp_frame(src, to_mac, ArpOperations::Reply, src, ip, to_mac, to_ip)
}

/// An ARP probe for `target` (sender address 0.0.0.0, RFC 5227): asks who
/// has it without touching anyone's neighbour cache.
pub fn arp_probe(src: Mac, target: Ipv4Addr) -> Vec<u8> {
    arp_probe_to(src, BROADCAST, target)
}

/// The same probe sent to one station (`dst`): the bridge forwards it to one
/// port instead of flooding every one, which keeps a prober cheap.
pub fn arp_probe_to(src: Mac, dst: Mac, target: Ipv4Addr) -> Vec<u8> {
    arp_frame(
        src,
        dst,
        ArpOperations::Request,
        src,
        Ipv4Addr::UNSPECIFIED,
        [0; 6],
        target,
    )
}

/// If `frame` is an ARP reply, the address it answers for.
pub fn arp_reply_sender(frame: &[u8]) -> Option<Ipv4Addr> {
    let eth = EthernetPacket::new(frame)?;
    if eth.get_ethertype() != EtherTypes::Arp {
        return None;
    }
    let arp = ArpPacket::new(eth.payload())?;
    (arp.get_operation() == ArpOperations::Reply).then(|| arp.get_sender_proto_addr())
}

/// The MAC of whoever `frame` shows using `ip`: an ARP reply from it, or a
/// request it sent (e.g. a gratuitous one). Probes (sender 0.0.0.0) are not.
pub fn arp_claimant(frame: &[u8], ip: Ipv4Addr) -> Option<Mac> {
    let eth = EthernetPacket::new(frame)?;
    if eth.get_ethertype() != EtherTypes::Arp {
        return None;
    }
    let arp = ArpPacket::new(eth.payload())?;
    (arp.get_sender_proto_addr() == ip).then(|| arp.get_sender_hw_addr().octets())
}

/// A neighbour solicitation for `target` from the unspecified address, as
/// duplicate address detection sends it (RFC 4862): whoever has `target`
/// answers to all nodes, and nobody's neighbour cache is touched.
pub fn dad_solicit(src: Mac, target: Ipv6Addr) -> Vec<u8> {
    let t = target.octets();
    dad_solicit_to(src, [0x33, 0x33, 0xff, t[13], t[14], t[15]], target)
}

/// The same solicitation sent to one station's MAC (`dst`) instead of the
/// solicited-node multicast group's: only that station gets it.
pub fn dad_solicit_to(src: Mac, dst: Mac, target: Ipv6Addr) -> Vec<u8> {
    const IPV6_HDR: usize = 40;
    const NS_LEN: usize = 24;
    let t = target.octets();
    let group = Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(t[13]),
        u16::from_be_bytes([t[14], t[15]]),
    );
    let mut buf = vec![0u8; ETH_HDR + IPV6_HDR + NS_LEN];
    {
        let mut eth = MutableEthernetPacket::new(&mut buf).expect("fits");
        eth.set_destination(pnet_mac(dst));
        eth.set_source(pnet_mac(src));
        eth.set_ethertype(EtherTypes::Ipv6);
    }
    {
        let mut ns =
            MutableNeighborSolicitPacket::new(&mut buf[ETH_HDR + IPV6_HDR..]).expect("fits");
        ns.set_icmpv6_type(Icmpv6Types::NeighborSolicit);
        ns.set_target_addr(target);
    }
    let sum = {
        let icmp = Icmpv6Packet::new(&buf[ETH_HDR + IPV6_HDR..]).expect("fits");
        icmpv6::checksum(&icmp, &Ipv6Addr::UNSPECIFIED, &group)
    };
    buf[ETH_HDR + IPV6_HDR + 2..ETH_HDR + IPV6_HDR + 4].copy_from_slice(&sum.to_be_bytes());
    let mut v6 = MutableIpv6Packet::new(&mut buf[ETH_HDR..]).expect("fits");
    v6.set_version(6);
    v6.set_payload_length(NS_LEN as u16);
    v6.set_next_header(IpNextHeaderProtocols::Icmpv6);
    v6.set_hop_limit(255);
    v6.set_source(Ipv6Addr::UNSPECIFIED);
    v6.set_destination(group);
    buf
}

/// The MAC that sent `frame` if it is a neighbour advertisement for `target`.
pub fn na_claimant(frame: &[u8], target: Ipv6Addr) -> Option<Mac> {
    let eth = EthernetPacket::new(frame)?;
    if eth.get_ethertype() != EtherTypes::Ipv6 {
        return None;
    }
    let v6 = Ipv6Packet::new(eth.payload())?;
    if v6.get_next_header() != IpNextHeaderProtocols::Icmpv6 {
        return None;
    }
    let na = NeighborAdvertPacket::new(v6.payload())?;
    (na.get_icmpv6_type() == Icmpv6Types::NeighborAdvert && na.get_target_addr() == target)
        .then(|| eth.get_source().octets())
}

/// Unsolicited neighbour advertisement for `ip` at `src` (override flag set,
/// to all nodes), so neighbours repoint their cache entries at once.
pub fn unsolicited_na(src: Mac, ip: Ipv6Addr) -> Vec<u8> {
    const IPV6_HDR: usize = 40;
    const NA_LEN: usize = 24 + 8; // header + target link-layer address option
    let all_nodes: Ipv6Addr = "ff02::1".parse().expect("valid literal");
    let mut buf = vec![0u8; ETH_HDR + IPV6_HDR + NA_LEN];
    {
        let mut eth = MutableEthernetPacket::new(&mut buf).expect("fits");
        eth.set_destination(MacAddr::new(0x33, 0x33, 0, 0, 0, 1));
        eth.set_source(pnet_mac(src));
        eth.set_ethertype(EtherTypes::Ipv6);
    }
    {
        let mut na =
            MutableNeighborAdvertPacket::new(&mut buf[ETH_HDR + IPV6_HDR..]).expect("fits");
        na.set_icmpv6_type(Icmpv6Types::NeighborAdvert);
        na.set_flags(NeighborAdvertFlags::Override);
        na.set_target_addr(ip);
        na.set_options(&[NdpOption {
            option_type: NdpOptionTypes::TargetLLAddr,
            length: 1,
            data: src.to_vec(),
        }]);
    }
    let sum = {
        let icmp = Icmpv6Packet::new(&buf[ETH_HDR + IPV6_HDR..]).expect("fits");
        icmpv6::checksum(&icmp, &ip, &all_nodes)
    };
    buf[ETH_HDR + IPV6_HDR + 2..ETH_HDR + IPV6_HDR + 4].copy_from_slice(&sum.to_be_bytes());
    let mut v6 = MutableIpv6Packet::new(&mut buf[ETH_HDR..]).expect("fits");
    v6.set_version(6);
    v6.set_payload_length(NA_LEN as u16);
    v6.set_next_header(IpNextHeaderProtocols::Icmpv6);
    v6.set_hop_limit(255);
    v6.set_source(ip);
    v6.set_destination(all_nodes);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Mac = [0x52, 0x54, 0, 0, 0, 1];

    #[test]
    fn garp_claims_the_ip_from_our_mac() {
        let ip: Ipv4Addr = "10.5.0.50".parse().unwrap();
        for f in gratuitous_arp(SRC, ip) {
            let eth = EthernetPacket::new(&f).unwrap();
            assert_eq!(eth.get_destination(), MacAddr::broadcast());
            let arp = ArpPacket::new(eth.payload()).unwrap();
            assert_eq!(arp.get_sender_proto_addr(), ip);
            assert_eq!(arp.get_target_proto_addr(), ip);
            assert_eq!(arp.get_sender_hw_addr(), pnet_mac(SRC));
        }
        let [_, reply] = gratuitous_arp(SRC, ip);
        assert_eq!(arp_reply_sender(&reply), Some(ip));
        assert_eq!(
            arp_reply_sender(&arp_probe(SRC, ip)),
            None,
            "a probe is a request"
        );
    }

    #[test]
    fn na_has_override_and_a_valid_checksum() {
        let ip: Ipv6Addr = "fd00::50".parse().unwrap();
        let f = unsolicited_na(SRC, ip);
        let icmp = Icmpv6Packet::new(&f[ETH_HDR + 40..]).unwrap();
        assert_eq!(icmp.get_icmpv6_type(), Icmpv6Types::NeighborAdvert);
        let all: Ipv6Addr = "ff02::1".parse().unwrap();
        assert_eq!(icmp.get_checksum(), icmpv6::checksum(&icmp, &ip, &all));
        assert_eq!(
            f[ETH_HDR + 40 + 4] & NeighborAdvertFlags::Override,
            NeighborAdvertFlags::Override
        );
        assert_eq!(f[ETH_HDR + 7], 255, "hop limit must be 255");
        assert_eq!(&f[f.len() - 6..], &SRC);
    }

    #[test]
    fn claimants_are_found_and_probes_are_not_claims() {
        let ip: Ipv4Addr = "10.5.0.50".parse().unwrap();
        let [req, reply] = gratuitous_arp(SRC, ip);
        assert_eq!(arp_claimant(&reply, ip), Some(SRC));
        assert_eq!(arp_claimant(&req, ip), Some(SRC));
        assert_eq!(arp_claimant(&reply, "10.5.0.51".parse().unwrap()), None);
        assert_eq!(arp_claimant(&arp_probe(SRC, ip), ip), None);
        assert_eq!(
            arp_claimant(&[0u8; 10], ip),
            None,
            "short frames are ignored"
        );

        let v6: Ipv6Addr = "fd00::50".parse().unwrap();
        assert_eq!(na_claimant(&unsolicited_na(SRC, v6), v6), Some(SRC));
        assert_eq!(
            na_claimant(&unsolicited_na(SRC, v6), "fd00::51".parse().unwrap()),
            None
        );
        assert_eq!(
            na_claimant(&dad_solicit(SRC, v6), v6),
            None,
            "a solicitation is no claim"
        );
        assert_eq!(na_claimant(&[0u8; 60], v6), None);
    }

    #[test]
    fn dad_solicit_goes_to_the_solicited_node_group_from_nowhere() {
        let v6: Ipv6Addr = "fd00::12:3456".parse().unwrap();
        let f = dad_solicit(SRC, v6);
        assert_eq!(&f[..6], &[0x33, 0x33, 0xff, 0x12, 0x34, 0x56]);
        let ip = Ipv6Packet::new(&f[ETH_HDR..]).unwrap();
        assert_eq!(ip.get_source(), Ipv6Addr::UNSPECIFIED);
        assert_eq!(
            ip.get_destination(),
            "ff02::1:ff12:3456".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(ip.get_hop_limit(), 255);
        let icmp = Icmpv6Packet::new(&f[ETH_HDR + 40..]).unwrap();
        assert_eq!(icmp.get_icmpv6_type(), Icmpv6Types::NeighborSolicit);
        assert_eq!(
            icmp.get_checksum(),
            icmpv6::checksum(&icmp, &Ipv6Addr::UNSPECIFIED, &ip.get_destination())
        );
    }

    #[test]
    fn macs_parse() {
        assert_eq!(parse_mac("52:54:00:00:00:01"), Some(SRC));
        assert_eq!(parse_mac("52:54:00:00:00"), None);
        assert_eq!(parse_mac("zz:54:00:00:00:01"), None);
    }
}
