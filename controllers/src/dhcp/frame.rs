//! DHCP messages in Ethernet / IPv4 / UDP frames, for a raw socket: a client
//! without an address cannot use a UDP socket to send from 0.0.0.0 or to
//! hear a broadcast answer on a link of its own choosing.

use crate::kernel::packet::Mac;
use pnet_base::MacAddr;
use pnet_packet::ethernet::{EtherTypes, EthernetPacket, MutableEthernetPacket};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv4::{self, Ipv4Packet, MutableIpv4Packet};
use pnet_packet::udp::{self, MutableUdpPacket, UdpPacket};
use std::net::Ipv4Addr;

pub const CLIENT_PORT: u16 = 68;
pub const SERVER_PORT: u16 = 67;
const ETH: usize = 14;
const IP: usize = 20;
const UDP: usize = 8;

fn mac(m: Mac) -> MacAddr {
    MacAddr::new(m[0], m[1], m[2], m[3], m[4], m[5])
}

/// A frame from `src` (MAC, IP) to `dst` carrying `payload` from the client
/// port to the server port.
pub fn build(src: (Mac, Ipv4Addr), dst: (Mac, Ipv4Addr), payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; ETH + IP + UDP + payload.len()];
    let udp_len = (UDP + payload.len()) as u16;
    {
        let mut u = MutableUdpPacket::new(&mut buf[ETH + IP..]).expect("sized above");
        u.set_source(CLIENT_PORT);
        u.set_destination(SERVER_PORT);
        u.set_length(udp_len);
        u.set_payload(payload);
        let sum = udp::ipv4_checksum(&u.to_immutable(), &src.1, &dst.1);
        u.set_checksum(sum);
    }
    {
        let mut ip = MutableIpv4Packet::new(&mut buf[ETH..]).expect("sized above");
        ip.set_version(4);
        ip.set_header_length(5);
        ip.set_total_length(IP as u16 + udp_len);
        ip.set_ttl(64);
        ip.set_flags(ipv4::Ipv4Flags::DontFragment);
        ip.set_next_level_protocol(IpNextHeaderProtocols::Udp);
        ip.set_source(src.1);
        ip.set_destination(dst.1);
        let sum = ipv4::checksum(&ip.to_immutable());
        ip.set_checksum(sum);
    }
    let mut eth = MutableEthernetPacket::new(&mut buf).expect("sized above");
    eth.set_destination(mac(dst.0));
    eth.set_source(mac(src.0));
    eth.set_ethertype(EtherTypes::Ipv4);
    buf
}

/// The sender's MAC and the UDP payload of a frame to the client port;
/// `None` for anything else or anything malformed.
pub fn parse(frame: &[u8]) -> Option<(Mac, &[u8])> {
    let eth = EthernetPacket::new(frame)?;
    if eth.get_ethertype() != EtherTypes::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new(&frame[ETH..])?;
    let ihl = usize::from(ip.get_header_length()) * 4;
    let total = usize::from(ip.get_total_length());
    if ip.get_version() != 4
        || ip.get_next_level_protocol() != IpNextHeaderProtocols::Udp
        || ihl < IP
        || total < ihl + UDP
        || frame.len() < ETH + total
    {
        return None;
    }
    let udp_bytes = &frame[ETH + ihl..ETH + total];
    let u = UdpPacket::new(udp_bytes)?;
    let len = usize::from(u.get_length());
    if u.get_destination() != CLIENT_PORT || len < UDP || len > udp_bytes.len() {
        return None;
    }
    let s = eth.get_source().octets();
    Some((s, &udp_bytes[UDP..len]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: Mac = [2, 0, 0, 0, 0, 1];

    #[test]
    fn a_built_frame_reads_back_with_valid_checksums() {
        let f = build(
            (ME, Ipv4Addr::UNSPECIFIED),
            ([0xff; 6], Ipv4Addr::BROADCAST),
            b"hello",
        );
        let ip = Ipv4Packet::new(&f[ETH..]).unwrap();
        assert_eq!(ipv4::checksum(&ip), ip.get_checksum());
        let u = UdpPacket::new(&f[ETH + IP..]).unwrap();
        assert_eq!(
            udp::ipv4_checksum(&u, &Ipv4Addr::UNSPECIFIED, &Ipv4Addr::BROADCAST),
            u.get_checksum()
        );
        assert_eq!(u.get_destination(), SERVER_PORT);
        // Our own frame goes to the server port: parse (client port) skips it.
        assert_eq!(parse(&f), None);
    }

    #[test]
    fn a_reply_to_the_client_port_parses_and_junk_does_not() {
        let mut f = build(
            (ME, Ipv4Addr::new(10, 0, 0, 1)),
            (ME, Ipv4Addr::BROADCAST),
            b"offer",
        );
        // Swap the ports, as a server's reply has them (checksum not checked).
        f[ETH + IP..ETH + IP + 4].copy_from_slice(&[0, 67, 0, 68]);
        assert_eq!(parse(&f), Some((ME, &b"offer"[..])));
        for n in [0, 13, 14, 30, f.len() - 1] {
            assert_eq!(parse(&f[..n]), None, "truncated to {n}");
        }
        let mut bad = f.clone();
        bad[ETH + 2..ETH + 4].copy_from_slice(&[0xff, 0xff]); // total length
        assert_eq!(parse(&bad), None);
    }
}
