//! The DHCP operator in the harness, against a scripted server on a fake
//! socket: a lease becomes the link's address, its route and a bound
//! status; the spec's removal releases the lease and takes all of it away.

use super::socket::{DhcpSocket, DhcpSockets};
use super::wire::tests::{server_message, MAC};
use super::DhcpOperatorController;
use crate::kernel::fake::FakeKernel;
use crate::runtime::harness::Harness;
use crate::vip::fakes::QuietWires;
use async_trait::async_trait;
use dhcproto::v4::{DhcpOption, Message, MessageType};
use dhcproto::{Decodable, Decoder};
use machined_resources::types::{
    AddressSpec, DhcpSpec, DhcpState, DhcpStatus, LinkStatus, OperState, RouteSpec,
};
use std::collections::VecDeque;
use std::io;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
const SERVER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x99];
const OFFERED: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 20);
/// Ethernet + IPv4 (no options) + UDP headers.
const HEADERS: usize = 14 + 20 + 8;

/// A DHCP server on the other end of every socket opened: offers and acks
/// one address; remembers what the client sent.
#[derive(Default)]
struct Server {
    to_client: Mutex<VecDeque<Vec<u8>>>,
    arrived: Notify,
    heard: Mutex<Vec<MessageType>>,
}

impl Server {
    fn heard(&self, t: MessageType) -> bool {
        self.heard.lock().unwrap().contains(&t)
    }

    fn reply(&self, kind: MessageType, xid: u32) {
        let opts = vec![
            DhcpOption::ServerIdentifier(SERVER),
            DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)),
            DhcpOption::Router(vec![SERVER]),
            DhcpOption::AddressLeaseTime(3600),
        ];
        let payload = server_message(kind, xid, OFFERED, opts);
        let mut f = super::frame::build((SERVER_MAC, SERVER), (MAC, Ipv4Addr::BROADCAST), &payload);
        // From the server port to the client's (build writes the other way).
        f[34..38].copy_from_slice(&[0, 67, 0, 68]);
        self.to_client.lock().unwrap().push_back(f);
        self.arrived.notify_one();
    }
}

struct Socket(Arc<Server>);

#[async_trait]
impl DhcpSocket for Socket {
    fn send(&self, frame: &[u8]) -> io::Result<()> {
        let m = Message::decode(&mut Decoder::new(&frame[HEADERS..])).expect("a DHCP message");
        let kind = m.opts().msg_type().expect("a message type");
        self.0.heard.lock().unwrap().push(kind);
        match kind {
            MessageType::Discover => self.0.reply(MessageType::Offer, m.xid()),
            MessageType::Request => self.0.reply(MessageType::Ack, m.xid()),
            _ => {}
        }
        Ok(())
    }

    async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let next = self.0.to_client.lock().unwrap().pop_front();
            if let Some(f) = next {
                buf[..f.len()].copy_from_slice(&f);
                return Ok(f.len());
            }
            self.0.arrived.notified().await;
        }
    }
}

struct Sockets(Arc<Server>);

impl DhcpSockets for Sockets {
    fn open(&self, _: u32) -> io::Result<Box<dyn DhcpSocket>> {
        Ok(Box::new(Socket(self.0.clone())))
    }
}

fn eth0() -> LinkStatus {
    LinkStatus {
        index: 2,
        link_type: "ether".into(),
        hardware_addr: MAC.into(),
        up: true,
        oper_state: OperState::Up,
        mtu: 1500,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_lease_becomes_the_links_address_and_route_and_goes_with_the_spec() {
    let dir = std::env::temp_dir().join(format!("machined-dhcp-op-{}", std::process::id()));
    let server = Arc::new(Server::default());
    let op = DhcpOperatorController::new(
        dir.clone(),
        Arc::new(Sockets(server.clone())),
        Arc::new(QuietWires),
        Arc::new(FakeKernel::default()),
    );
    let h = Harness::new().with(op).start();
    h.put("eth0", &eth0());
    h.put(
        "eth0",
        &DhcpSpec {
            link: "eth0".into(),
            options: Default::default(),
        },
    );

    let st = h
        .assert_eventually::<DhcpStatus>("eth0", |s| s.state == DhcpState::Bound)
        .await;
    assert_eq!(st.address, Some("10.9.0.20/24".parse().unwrap()));
    assert_eq!(st.server, Some(SERVER));
    assert_eq!(st.lease_secs, 3600);
    let a = h
        .assert_eventually::<AddressSpec>("eth0/10.9.0.20/24", |_| true)
        .await;
    assert!(
        a.valid_until_ms.is_some(),
        "the address lives no longer than the lease"
    );
    let routes = h.state().list_typed::<RouteSpec>().unwrap();
    assert_eq!(routes.len(), 1, "{routes:?}");
    let r = &routes[0].spec;
    assert_eq!(r.destination, "0.0.0.0/0".parse().unwrap());
    assert_eq!(r.gateway, Some(SERVER.into()));
    assert_eq!(r.source, Some(OFFERED.into()));
    assert!(server.heard(MessageType::Discover) && server.heard(MessageType::Request));

    h.destroy::<DhcpSpec>("eth0");
    h.assert_gone::<DhcpStatus>("eth0").await;
    h.assert_gone::<AddressSpec>("eth0/10.9.0.20/24").await;
    assert!(h.state().list_typed::<RouteSpec>().unwrap().is_empty());
    h.until("a RELEASE", || server.heard(MessageType::Release))
        .await;
    h.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
