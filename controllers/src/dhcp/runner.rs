//! One link's DHCPv4 client at work: the state machine ([`Client`]) driven
//! by a raw socket, the clock and the ARP check; what it holds is published
//! in a [`Snapshot`] for the controller, which writes the specs.

use super::client::{Action, Client};
use super::frame;
use super::lease::{self, now_ms, Lease};
use super::socket::{DhcpSocket, DhcpSockets};
use super::wire::{self, Identity, Outgoing};
use crate::kernel::packet::Mac;
use crate::vip::Wires;
use crate::Waker;
use machined_resources::types::DhcpState;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long the offered address is ARP-probed before use (RFC 5227 probes
/// for 1-2 s; our links are local).
const CHECK_WINDOW: Duration = Duration::from_millis(500);

/// What the controller reads of a client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub state: DhcpState,
    pub lease: Option<Lease>,
    pub last_error: String,
}

pub struct Link {
    pub index: u32,
    pub mac: Mac,
}

pub struct Runner {
    pub link: Link,
    pub me: Identity,
    pub file: PathBuf,
    pub wires: Arc<dyn Wires>,
    pub sockets: Arc<dyn DhcpSockets>,
    pub out: Arc<Mutex<Snapshot>>,
    pub waker: Waker,
}

impl Runner {
    fn publish(&self, c: &Client) {
        let snap = Snapshot {
            state: c.state.kind(),
            lease: c.lease.clone(),
            last_error: c.last_error.clone(),
        };
        let mut cur = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if *cur != snap {
            *cur = snap;
            self.waker.wake();
        }
    }

    fn send(&self, sock: &dyn DhcpSocket, o: &Outgoing) {
        let payload = wire::encode(o, &self.me);
        if payload.is_empty() {
            return;
        }
        let dst = match o.unicast {
            Some((ip, mac)) => (mac, ip),
            None => ([0xff; 6], Ipv4Addr::BROADCAST),
        };
        let f = frame::build((self.link.mac, o.ciaddr), dst, &payload);
        if let Err(e) = sock.send(&f) {
            tracing::warn!(error = %machined_resources::error::chain(&e), kind = ?o.kind, "DHCP send failed");
        } else {
            tracing::debug!(kind = ?o.kind, xid = o.xid, "DHCP sent");
        }
    }

    /// Runs until `stop` is cancelled; then releases the lease and returns.
    pub async fn run(self, stop: CancellationToken) {
        let sock = match self.sockets.open(self.link.index) {
            Ok(s) => s,
            Err(e) => {
                let mut c = Client::new(0);
                c.last_error = format!(
                    "opening the DHCP socket: {}",
                    machined_resources::error::chain(&e)
                );
                self.publish(&c);
                return;
            }
        };
        let seed = u64::from_le_bytes([
            self.link.mac[0],
            self.link.mac[1],
            self.link.mac[2],
            self.link.mac[3],
            self.link.mac[4],
            self.link.mac[5],
            0,
            0,
        ]) ^ now_ms();
        let mut c = Client::new(seed);
        let saved = lease::load(&self.file);
        let mut todo = c.start(now_ms(), saved);
        let mut buf = vec![0u8; 2048];
        loop {
            while let Some(a) = (!todo.is_empty()).then(|| todo.remove(0)) {
                todo.extend(self.act(&*sock, &mut c, a).await);
            }
            self.publish(&c);
            let wait = Duration::from_millis(c.next_wake().saturating_sub(now_ms()).min(3_600_000));
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(wait) => todo = c.tick(now_ms()),
                r = sock.recv(&mut buf) => match r {
                    Ok(n) => {
                        if let Some(reply) = frame::parse(&buf[..n])
                            .and_then(|(from, p)| wire::decode(p, from, &self.link.mac))
                        {
                            tracing::debug!(kind = ?reply.kind, xid = reply.xid, "DHCP reply");
                            todo = c.reply(now_ms(), reply);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %machined_resources::error::chain(&e), "DHCP receive failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                },
            }
        }
        if let Some(o) = c.release(now_ms()) {
            tracing::info!(server = %o.server_id.unwrap_or(Ipv4Addr::UNSPECIFIED), "releasing the DHCP lease");
            self.send(&*sock, &o);
        }
        self.publish(&c);
    }

    async fn act(&self, sock: &dyn DhcpSocket, c: &mut Client, a: Action) -> Vec<Action> {
        match a {
            Action::Send(o) => {
                self.send(sock, &o);
                Vec::new()
            }
            Action::Check(ip) => {
                let checked = match self
                    .wires
                    .open(self.link.index, self.link.mac, IpAddr::V4(ip))
                {
                    Ok(w) => w.answered_by(CHECK_WINDOW).await,
                    Err(e) => Err(e),
                };
                let conflict = checked.unwrap_or_else(|e| {
                    tracing::warn!(error = %machined_resources::error::chain(&e), "address check failed; taking the lease");
                    None
                });
                let conflict = conflict.is_some();
                if conflict {
                    tracing::warn!(%ip, "offered address is in use on the link; declining");
                }
                c.checked(now_ms(), conflict)
            }
            Action::Bind(l) => {
                tracing::info!(address = %l.cidr(), server = %l.server, lease_secs = l.lease_secs, "DHCP lease bound");
                if let Err(e) = lease::save(&self.file, &l) {
                    tracing::warn!(error = %machined_resources::error::chain(&e), file = %self.file.display(), "saving the lease failed");
                }
                Vec::new()
            }
            Action::Lose(why) => {
                tracing::warn!(reason = %why, "DHCP lease lost");
                lease::forget(&self.file);
                Vec::new()
            }
        }
    }
}
