//! DHCPv4 messages to and from bytes, with dhcproto: what the client sends
//! ([`Outgoing`] → bytes) and what it reads of a server's answer
//! (bytes → [`Reply`]). The state machine sees neither bytes nor dhcproto.

use dhcproto::v4::{DhcpOption, Flags, HType, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// At most this much of a server's message is read (a full Ethernet frame).
pub const MAX_MESSAGE: usize = 1500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Discover,
    Request,
    Decline,
    Release,
}

/// A message the client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub kind: Kind,
    pub xid: u32,
    /// Seconds since the exchange began (`secs`).
    pub secs: u16,
    /// Our address, when we have one in use (renewing, rebinding, release).
    pub ciaddr: Ipv4Addr,
    /// Option 50.
    pub requested: Option<Ipv4Addr>,
    /// Option 54.
    pub server_id: Option<Ipv4Addr>,
    /// To the server's address and MAC; else broadcast.
    pub unicast: Option<(Ipv4Addr, [u8; 6])>,
}

/// What the client says about itself in every message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub mac: [u8; 6],
    /// Option 61, when sent.
    pub client_id: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    Offer,
    Ack,
    Nak,
}

/// A server's answer, as far as the client uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub kind: ReplyKind,
    pub xid: u32,
    pub yiaddr: Ipv4Addr,
    pub server_id: Option<Ipv4Addr>,
    pub netmask: Option<Ipv4Addr>,
    pub routers: Vec<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
    pub hostname: Option<String>,
    pub domain: Option<String>,
    pub mtu: Option<u16>,
    /// Option 121 (RFC 3442).
    pub routes: Vec<(Ipv4Net, Ipv4Addr)>,
    pub lease_secs: Option<u32>,
    pub t1_secs: Option<u32>,
    pub t2_secs: Option<u32>,
    /// The frame's Ethernet source (the server, or a relay).
    pub from_mac: [u8; 6],
}

const WANTED: &[OptionCode] = &[
    OptionCode::SubnetMask,
    OptionCode::Router,
    OptionCode::DomainNameServer,
    OptionCode::Hostname,
    OptionCode::DomainName,
    OptionCode::InterfaceMtu,
    OptionCode::ClasslessStaticRoute,
    OptionCode::AddressLeaseTime,
    OptionCode::Renewal,
    OptionCode::Rebinding,
];

pub fn encode(out: &Outgoing, me: &Identity) -> Vec<u8> {
    let mut m = Message::default();
    m.set_opcode(Opcode::BootRequest)
        .set_htype(HType::Eth)
        .set_xid(out.xid)
        .set_secs(out.secs)
        .set_ciaddr(out.ciaddr)
        .set_chaddr(&me.mac);
    if out.unicast.is_none() && out.ciaddr.is_unspecified() {
        // We cannot receive unicast before the address is ours.
        m.set_flags(Flags::default().set_broadcast());
    }
    let o = m.opts_mut();
    o.insert(DhcpOption::MessageType(match out.kind {
        Kind::Discover => MessageType::Discover,
        Kind::Request => MessageType::Request,
        Kind::Decline => MessageType::Decline,
        Kind::Release => MessageType::Release,
    }));
    if let Some(id) = &me.client_id {
        o.insert(DhcpOption::ClientIdentifier(id.clone()));
    }
    if let Some(ip) = out.requested {
        o.insert(DhcpOption::RequestedIpAddress(ip));
    }
    if let Some(ip) = out.server_id {
        o.insert(DhcpOption::ServerIdentifier(ip));
    }
    if matches!(out.kind, Kind::Discover | Kind::Request) {
        o.insert(DhcpOption::MaxMessageSize(MAX_MESSAGE as u16));
        o.insert(DhcpOption::ParameterRequestList(WANTED.to_vec()));
    }
    let mut buf = Vec::with_capacity(300);
    // Encoding what we built ourselves cannot fail short of a bug; an
    // empty message is then dropped by the sender.
    if m.encode(&mut Encoder::new(&mut buf)).is_err() {
        buf.clear();
    }
    buf
}

/// Reads a server's answer to `mac`; `None` for anything else.
pub fn decode(bytes: &[u8], from_mac: [u8; 6], mac: &[u8; 6]) -> Option<Reply> {
    if bytes.len() > MAX_MESSAGE {
        return None;
    }
    let m = Message::decode(&mut Decoder::new(bytes)).ok()?;
    if m.opcode() != Opcode::BootReply || m.chaddr().get(..6) != Some(&mac[..]) {
        return None;
    }
    let o = m.opts();
    let kind = match o.msg_type()? {
        MessageType::Offer => ReplyKind::Offer,
        MessageType::Ack => ReplyKind::Ack,
        MessageType::Nak => ReplyKind::Nak,
        _ => return None,
    };
    let mut r = Reply {
        kind,
        xid: m.xid(),
        yiaddr: m.yiaddr(),
        server_id: None,
        netmask: None,
        routers: Vec::new(),
        dns: Vec::new(),
        hostname: None,
        domain: None,
        mtu: None,
        routes: Vec::new(),
        lease_secs: None,
        t1_secs: None,
        t2_secs: None,
        from_mac,
    };
    for (_, opt) in o.iter() {
        match opt {
            DhcpOption::ServerIdentifier(ip) => r.server_id = Some(*ip),
            DhcpOption::SubnetMask(ip) => r.netmask = Some(*ip),
            DhcpOption::Router(ips) => r.routers = ips.clone(),
            DhcpOption::DomainNameServer(ips) => r.dns = ips.clone(),
            DhcpOption::Hostname(h) => r.hostname = Some(h.clone()),
            DhcpOption::DomainName(h) => r.domain = Some(h.clone()),
            DhcpOption::InterfaceMtu(m) => r.mtu = Some(*m),
            DhcpOption::ClasslessStaticRoute(routes) => r.routes = routes.clone(),
            DhcpOption::AddressLeaseTime(s) => r.lease_secs = Some(*s),
            DhcpOption::Renewal(s) => r.t1_secs = Some(*s),
            DhcpOption::Rebinding(s) => r.t2_secs = Some(*s),
            _ => {}
        }
    }
    Some(r)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

    /// A server's message, as bytes.
    pub fn server_message(
        kind: MessageType,
        xid: u32,
        yiaddr: Ipv4Addr,
        opts: Vec<DhcpOption>,
    ) -> Vec<u8> {
        let mut m = Message::default();
        m.set_opcode(Opcode::BootReply)
            .set_xid(xid)
            .set_yiaddr(yiaddr)
            .set_chaddr(&MAC);
        m.opts_mut().insert(DhcpOption::MessageType(kind));
        for o in opts {
            m.opts_mut().insert(o);
        }
        let mut buf = Vec::new();
        m.encode(&mut Encoder::new(&mut buf)).unwrap();
        buf
    }

    #[test]
    fn a_discover_asks_for_what_the_client_uses_and_a_broadcast_answer() {
        let me = Identity {
            mac: MAC,
            client_id: Some(vec![1, 2, 0, 0, 0, 0, 1]),
        };
        let out = Outgoing {
            kind: Kind::Discover,
            xid: 7,
            secs: 3,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            requested: None,
            server_id: None,
            unicast: None,
        };
        let m = Message::decode(&mut Decoder::new(&encode(&out, &me))).unwrap();
        assert_eq!((m.xid(), m.secs()), (7, 3));
        assert!(m.flags().broadcast());
        assert_eq!(m.opts().msg_type(), Some(MessageType::Discover));
        assert!(matches!(
            m.opts().get(OptionCode::ClientIdentifier),
            Some(DhcpOption::ClientIdentifier(id)) if id == &vec![1, 2, 0, 0, 0, 0, 1]
        ));
        assert!(matches!(
            m.opts().get(OptionCode::ParameterRequestList),
            Some(DhcpOption::ParameterRequestList(l)) if l.contains(&OptionCode::ClasslessStaticRoute)
        ));
    }

    #[test]
    fn an_ack_reads_its_lease_and_other_clients_answers_are_ignored() {
        let yi = Ipv4Addr::new(10, 0, 0, 20);
        let bytes = server_message(
            MessageType::Ack,
            9,
            yi,
            vec![
                DhcpOption::ServerIdentifier(Ipv4Addr::new(10, 0, 0, 1)),
                DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)),
                DhcpOption::Router(vec![Ipv4Addr::new(10, 0, 0, 1)]),
                DhcpOption::AddressLeaseTime(120),
                DhcpOption::Hostname("cp1".into()),
            ],
        );
        let r = decode(&bytes, [9; 6], &MAC).unwrap();
        assert_eq!((r.kind, r.xid, r.yiaddr), (ReplyKind::Ack, 9, yi));
        assert_eq!(r.lease_secs, Some(120));
        assert_eq!(r.hostname.as_deref(), Some("cp1"));
        assert_eq!(r.from_mac, [9; 6]);
        assert_eq!(decode(&bytes, [9; 6], &[2, 0, 0, 0, 0, 2]), None);
        assert_eq!(decode(&bytes[..40], [9; 6], &MAC), None);
        assert_eq!(decode(&[], [9; 6], &MAC), None);
    }
}
