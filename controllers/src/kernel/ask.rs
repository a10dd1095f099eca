//! Answering for an address from user space. The kernel never answers for
//! a VIP (it lives on `lo`, and the real link has `arp_ignore`): machined
//! reads the questions from a packet socket, and answers them as the kernel
//! would have, but only with fresh proof from etcd.
//!
//! What is heard for an address: someone asking who has it (an ARP request
//! or probe, a neighbour solicitation, DAD's included), or someone else
//! saying it has it (an ARP reply or gratuitous ARP, a neighbour
//! advertisement). Frames come from the LAN: every field is checked, and a
//! frame that does not parse is not heard at all.

use super::packet::Mac;
use pnet_base::MacAddr;
use pnet_packet::arp::{ArpOperations, ArpPacket};
use pnet_packet::ethernet::{EtherTypes, EthernetPacket, MutableEthernetPacket};
use pnet_packet::icmpv6::ndp::{
    MutableNeighborAdvertPacket, NdpOption, NdpOptionTypes, NeighborAdvertFlags,
    NeighborAdvertPacket, NeighborSolicitPacket,
};
use pnet_packet::icmpv6::{self, Icmpv6Packet, Icmpv6Types};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv6::{Ipv6Packet, MutableIpv6Packet};
use pnet_packet::Packet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const ETH_HDR: usize = 14;
const IPV6_HDR: usize = 40;

/// Who asked, and where the answer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Asker {
    /// The link-layer address to answer to.
    pub mac: Mac,
    /// The sender's protocol address: unspecified for an ARP probe or a
    /// DAD solicitation.
    pub ip: IpAddr,
}

/// What a frame says about the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// Asks who has it.
    Asked(Asker),
    /// Another station says it has it.
    Claimed(Mac),
}

fn unicast(m: &Mac) -> bool {
    m[0] & 1 == 0 && *m != [0; 6]
}

/// What `frame` says about `ip`, as heard by the station `me` (its own
/// frames are not heard).
pub fn hear(frame: &[u8], ip: IpAddr, me: Mac) -> Option<Heard> {
    let heard = match ip {
        IpAddr::V4(v4) => hear_arp(frame, v4)?,
        IpAddr::V6(v6) => hear_ndp(frame, v6)?,
    };
    match heard {
        Heard::Asked(a) if a.mac == me => None,
        Heard::Claimed(m) if m == me => None,
        h => Some(h),
    }
}

fn hear_arp(frame: &[u8], ip: Ipv4Addr) -> Option<Heard> {
    let eth = EthernetPacket::new(frame)?;
    if eth.get_ethertype() != EtherTypes::Arp {
        return None;
    }
    let arp = ArpPacket::new(eth.payload())?;
    if arp.get_hw_addr_len() != 6
        || arp.get_proto_addr_len() != 4
        || arp.get_protocol_type() != EtherTypes::Ipv4
    {
        return None;
    }
    let sha = arp.get_sender_hw_addr().octets();
    if !unicast(&sha) {
        return None;
    }
    let (spa, tpa) = (arp.get_sender_proto_addr(), arp.get_target_proto_addr());
    if spa == ip {
        // A reply from it, or a request sent from it (a gratuitous ARP).
        return Some(Heard::Claimed(sha));
    }
    let op = arp.get_operation();
    let sane = !(spa.is_multicast() || spa.is_broadcast() || spa.is_loopback());
    (op == ArpOperations::Request && tpa == ip && sane).then_some(Heard::Asked(Asker {
        mac: sha,
        ip: IpAddr::V4(spa),
    }))
}

/// The link-layer address an NDP message carries in option `kind`.
fn ll_option(options: &[NdpOption], kind: pnet_packet::icmpv6::ndp::NdpOptionType) -> Option<Mac> {
    options
        .iter()
        .find(|o| o.option_type == kind && o.data.len() >= 6)
        .and_then(|o| o.data[..6].try_into().ok())
}

fn hear_ndp(frame: &[u8], target: Ipv6Addr) -> Option<Heard> {
    let eth = EthernetPacket::new(frame)?;
    if eth.get_ethertype() != EtherTypes::Ipv6 {
        return None;
    }
    let v6 = Ipv6Packet::new(eth.payload())?;
    // RFC 4861: a hop limit other than 255 came through a router.
    if v6.get_next_header() != IpNextHeaderProtocols::Icmpv6 || v6.get_hop_limit() != 255 {
        return None;
    }
    let len = usize::from(v6.get_payload_length());
    let body = v6.payload().get(..len)?;
    let icmp = Icmpv6Packet::new(body)?;
    let (src, dst) = (v6.get_source(), v6.get_destination());
    if icmp.get_icmpv6_code().0 != 0 || icmp.get_checksum() != icmpv6::checksum(&icmp, &src, &dst) {
        return None;
    }
    let eth_src = eth.get_source().octets();
    match icmp.get_icmpv6_type() {
        Icmpv6Types::NeighborSolicit => {
            let ns = NeighborSolicitPacket::new(body)?;
            if ns.get_target_addr() != target || src.is_multicast() {
                return None;
            }
            let mac = ll_option(&ns.get_options(), NdpOptionTypes::SourceLLAddr).unwrap_or(eth_src);
            unicast(&mac).then_some(Heard::Asked(Asker {
                mac,
                ip: IpAddr::V6(src),
            }))
        }
        Icmpv6Types::NeighborAdvert => {
            let na = NeighborAdvertPacket::new(body)?;
            if na.get_target_addr() != target {
                return None;
            }
            let mac = ll_option(&na.get_options(), NdpOptionTypes::TargetLLAddr).unwrap_or(eth_src);
            unicast(&mac).then_some(Heard::Claimed(mac))
        }
        _ => None,
    }
}

/// The answer `me` gives `who` for `ip`: an ARP reply sent to the asker
/// (its address as target; 0.0.0.0 for a probe, as the kernel does), or a
/// neighbour advertisement, solicited and to the asker, or to all nodes for
/// a DAD solicitation. Both override caches.
pub fn answer(me: Mac, ip: IpAddr, who: &Asker) -> Vec<u8> {
    match (ip, who.ip) {
        (IpAddr::V4(v4), IpAddr::V4(asker)) => super::packet::arp_reply(me, v4, who.mac, asker),
        (IpAddr::V6(v6), IpAddr::V6(asker)) => advert(me, v6, who.mac, asker),
        // A mixed pair is never heard: answer as to a probe.
        (IpAddr::V4(v4), _) => super::packet::arp_reply(me, v4, who.mac, Ipv4Addr::UNSPECIFIED),
        (IpAddr::V6(v6), _) => advert(me, v6, who.mac, Ipv6Addr::UNSPECIFIED),
    }
}

fn advert(me: Mac, target: Ipv6Addr, to_mac: Mac, to: Ipv6Addr) -> Vec<u8> {
    const NA_LEN: usize = 24 + 8;
    let dad = to.is_unspecified();
    let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let (dst, eth_dst, flags) = if dad {
        (
            all_nodes,
            [0x33, 0x33, 0, 0, 0, 1],
            NeighborAdvertFlags::Override,
        )
    } else {
        (
            to,
            to_mac,
            NeighborAdvertFlags::Solicited | NeighborAdvertFlags::Override,
        )
    };
    let mut buf = vec![0u8; ETH_HDR + IPV6_HDR + NA_LEN];
    if let Some(mut eth) = MutableEthernetPacket::new(&mut buf) {
        eth.set_destination(MacAddr::from(eth_dst));
        eth.set_source(MacAddr::from(me));
        eth.set_ethertype(EtherTypes::Ipv6);
    }
    if let Some(mut na) = MutableNeighborAdvertPacket::new(&mut buf[ETH_HDR + IPV6_HDR..]) {
        na.set_icmpv6_type(Icmpv6Types::NeighborAdvert);
        na.set_flags(flags);
        na.set_target_addr(target);
        na.set_options(&[NdpOption {
            option_type: NdpOptionTypes::TargetLLAddr,
            length: 1,
            data: me.to_vec(),
        }]);
    }
    let sum = Icmpv6Packet::new(&buf[ETH_HDR + IPV6_HDR..])
        .map(|icmp| icmpv6::checksum(&icmp, &target, &dst))
        .unwrap_or(0);
    buf[ETH_HDR + IPV6_HDR + 2..ETH_HDR + IPV6_HDR + 4].copy_from_slice(&sum.to_be_bytes());
    if let Some(mut v6) = MutableIpv6Packet::new(&mut buf[ETH_HDR..]) {
        v6.set_version(6);
        v6.set_payload_length(NA_LEN as u16);
        v6.set_next_header(IpNextHeaderProtocols::Icmpv6);
        v6.set_hop_limit(255);
        v6.set_source(target);
        v6.set_destination(dst);
    }
    buf
}

#[cfg(test)]
#[path = "ask_tests.rs"]
mod tests;
