use super::*;
use crate::kernel::packet::{arp_probe, arp_probe_to, dad_solicit, gratuitous_arp};
use pnet_packet::icmpv6::ndp::MutableNeighborSolicitPacket;

const ME: Mac = [0x02, 0, 0, 0, 0, 0x11];
const THEM: Mac = [0x02, 0, 0, 0, 0, 0x22];

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// An ARP request for `target` from (`sha`, `spa`).
fn request(sha: Mac, spa: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut f = arp_probe(sha, target);
    f[28..32].copy_from_slice(&spa.octets());
    f
}

#[test]
fn arp_requests_and_probes_are_asked_claims_are_claimed() {
    let vip = v4("10.5.0.50");
    let ip = IpAddr::V4(vip);
    let asked = |mac, ip| Some(Heard::Asked(Asker { mac, ip }));
    let cases: Vec<(&str, Vec<u8>, Option<Heard>)> = vec![
        (
            "a request from a client",
            request(THEM, v4("10.5.0.1"), vip),
            asked(THEM, IpAddr::V4(v4("10.5.0.1"))),
        ),
        (
            "a probe (sender 0.0.0.0)",
            arp_probe(THEM, vip),
            asked(THEM, IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        ),
        (
            "a unicast probe",
            arp_probe_to(THEM, ME, vip),
            asked(THEM, IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        ),
        (
            "a request for another address",
            request(THEM, v4("10.5.0.1"), v4("10.5.0.51")),
            None,
        ),
        (
            "someone's gratuitous ARP (request form)",
            gratuitous_arp(THEM, vip)[0].clone(),
            Some(Heard::Claimed(THEM)),
        ),
        (
            "someone's gratuitous ARP (reply form)",
            gratuitous_arp(THEM, vip)[1].clone(),
            Some(Heard::Claimed(THEM)),
        ),
        (
            "someone's reply",
            crate::kernel::packet::arp_reply(THEM, vip, ME, v4("10.5.0.11")),
            Some(Heard::Claimed(THEM)),
        ),
        (
            "our own gratuitous ARP",
            gratuitous_arp(ME, vip)[0].clone(),
            None,
        ),
        ("our own probe", arp_probe(ME, vip), None),
        (
            "a broadcast sender MAC",
            request([0xff; 6], v4("10.5.0.1"), vip),
            None,
        ),
        (
            "a multicast sender address",
            request(THEM, v4("224.0.0.1"), vip),
            None,
        ),
        (
            "a runt",
            request(THEM, v4("10.5.0.1"), vip)[..30].to_vec(),
            None,
        ),
    ];
    for (what, frame, want) in cases {
        assert_eq!(hear(&frame, ip, ME), want, "{what}");
    }
}

#[test]
fn an_arp_answer_is_the_kernels_reply() {
    let vip = v4("10.5.0.50");
    let who = Asker {
        mac: THEM,
        ip: IpAddr::V4(v4("10.5.0.1")),
    };
    let f = answer(ME, IpAddr::V4(vip), &who);
    let eth = EthernetPacket::new(&f).unwrap();
    assert_eq!(eth.get_destination().octets(), THEM, "unicast to the asker");
    assert_eq!(eth.get_source().octets(), ME);
    let arp = ArpPacket::new(eth.payload()).unwrap();
    assert_eq!(arp.get_operation(), ArpOperations::Reply);
    assert_eq!(arp.get_sender_hw_addr().octets(), ME);
    assert_eq!(arp.get_sender_proto_addr(), vip);
    assert_eq!(arp.get_target_hw_addr().octets(), THEM);
    assert_eq!(arp.get_target_proto_addr(), v4("10.5.0.1"));
    // Whoever hears it, hears us claim the VIP.
    assert_eq!(hear(&f, IpAddr::V4(vip), THEM), Some(Heard::Claimed(ME)));
}

/// A neighbour solicitation for `target` from `src` (with its link-layer
/// option unless DAD), to the solicited-node group, with a valid checksum.
fn solicit(sha: Mac, src: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    let mut f = dad_solicit(sha, target);
    if src.is_unspecified() {
        return f;
    }
    // Room for the source link-layer option: 8 more bytes.
    f.extend_from_slice(&[1, 1, sha[0], sha[1], sha[2], sha[3], sha[4], sha[5]]);
    let dst = Ipv6Packet::new(&f[ETH_HDR..]).unwrap().get_destination();
    {
        let mut ip = MutableIpv6Packet::new(&mut f[ETH_HDR..]).unwrap();
        ip.set_source(src);
        ip.set_payload_length(32);
    }
    let body = &mut f[ETH_HDR + IPV6_HDR..];
    body[2] = 0;
    body[3] = 0;
    let sum = icmpv6::checksum(&Icmpv6Packet::new(body).unwrap(), &src, &dst);
    body[2..4].copy_from_slice(&sum.to_be_bytes());
    let _ = MutableNeighborSolicitPacket::new(body).unwrap();
    f
}

#[test]
fn neighbour_solicitations_are_asked_advertisements_claimed() {
    let vip = v6("fd00::50");
    let ip = IpAddr::V6(vip);
    let asker = v6("fd00::1");
    assert_eq!(
        hear(&solicit(THEM, asker, vip), ip, ME),
        Some(Heard::Asked(Asker {
            mac: THEM,
            ip: IpAddr::V6(asker)
        }))
    );
    assert_eq!(
        hear(&solicit(THEM, Ipv6Addr::UNSPECIFIED, vip), ip, ME),
        Some(Heard::Asked(Asker {
            mac: THEM,
            ip: IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        })),
        "DAD"
    );
    assert_eq!(hear(&solicit(THEM, asker, v6("fd00::51")), ip, ME), None);
    let mut bad = solicit(THEM, asker, vip);
    bad[ETH_HDR + IPV6_HDR + 2] ^= 0xff;
    assert_eq!(hear(&bad, ip, ME), None, "a bad checksum");
    let mut routed = solicit(THEM, asker, vip);
    routed[ETH_HDR + 7] = 64;
    assert_eq!(hear(&routed, ip, ME), None, "hop limit below 255");
    let unsolicited = crate::kernel::packet::unsolicited_na(THEM, vip);
    assert_eq!(hear(&unsolicited, ip, ME), Some(Heard::Claimed(THEM)));
    assert_eq!(
        hear(&crate::kernel::packet::unsolicited_na(ME, vip), ip, ME),
        None
    );
    assert_eq!(hear(&[0u8; 70], ip, ME), None);
}

#[test]
fn an_advertisement_answers_the_asker_or_all_nodes_for_dad() {
    let vip = v6("fd00::50");
    let asker = v6("fd00::1");
    for (to, want_dst, want_mac, solicited) in [
        (asker, asker, THEM, true),
        (
            Ipv6Addr::UNSPECIFIED,
            v6("ff02::1"),
            [0x33, 0x33, 0, 0, 0, 1],
            false,
        ),
    ] {
        let f = answer(
            ME,
            IpAddr::V6(vip),
            &Asker {
                mac: THEM,
                ip: IpAddr::V6(to),
            },
        );
        let eth = EthernetPacket::new(&f).unwrap();
        assert_eq!(eth.get_destination().octets(), want_mac);
        let ip = Ipv6Packet::new(eth.payload()).unwrap();
        assert_eq!(ip.get_destination(), want_dst);
        assert_eq!(ip.get_source(), vip);
        assert_eq!(ip.get_hop_limit(), 255);
        let icmp = Icmpv6Packet::new(ip.payload()).unwrap();
        assert_eq!(
            icmp.get_checksum(),
            icmpv6::checksum(&icmp, &vip, &want_dst)
        );
        let na = NeighborAdvertPacket::new(ip.payload()).unwrap();
        assert_eq!(
            na.get_flags() & NeighborAdvertFlags::Solicited != 0,
            solicited
        );
        assert_ne!(na.get_flags() & NeighborAdvertFlags::Override, 0);
        // Others hear it as our claim.
        assert_eq!(hear(&f, IpAddr::V6(vip), THEM), Some(Heard::Claimed(ME)));
    }
}
