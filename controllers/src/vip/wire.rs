//! The VIP on its link: announcing it (gratuitous ARP / unsolicited NA) and
//! asking whether anyone answers for it (ARP probe / DAD-style neighbour
//! solicitation, neither of which touches a neighbour cache). A trait so the
//! holder is tested without the kernel.

use crate::kernel::packet::{self, Mac, PacketSocket};
use async_trait::async_trait;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

#[async_trait]
pub trait Wire: Send + Sync {
    /// Sends one announcement; returns the frames sent.
    fn announce(&self) -> io::Result<u64>;
    /// Probes for the address during `window`: the MAC of another host that
    /// answered for it or claimed it, if any did.
    async fn answered_by(&self, window: Duration) -> io::Result<Option<Mac>>;
}

/// Opens a [`Wire`] for one VIP on one link.
pub trait Wires: Send + Sync {
    fn open(&self, link_index: u32, mac: Mac, ip: IpAddr) -> io::Result<Arc<dyn Wire>>;
}

/// The real one: raw packet sockets.
pub struct L2Wires;

impl Wires for L2Wires {
    fn open(&self, link_index: u32, mac: Mac, ip: IpAddr) -> io::Result<Arc<dyn Wire>> {
        let sock = match ip {
            IpAddr::V4(_) => PacketSocket::arp(link_index)?,
            IpAddr::V6(_) => PacketSocket::ipv6(link_index)?,
        };
        let announcement = match ip {
            IpAddr::V4(v4) => packet::gratuitous_arp(mac, v4).to_vec(),
            IpAddr::V6(v6) => vec![packet::unsolicited_na(mac, v6)],
        };
        let probe = match ip {
            IpAddr::V4(v4) => packet::arp_probe(mac, v4),
            IpAddr::V6(v6) => packet::dad_solicit(mac, v6),
        };
        Ok(Arc::new(L2 {
            ip,
            mac,
            sock,
            announcement,
            probe,
        }))
    }
}

struct L2 {
    ip: IpAddr,
    mac: Mac,
    sock: PacketSocket,
    announcement: Vec<Vec<u8>>,
    probe: Vec<u8>,
}

impl L2 {
    fn claimant(&self, frame: &[u8]) -> Option<Mac> {
        let who = match self.ip {
            IpAddr::V4(v4) => packet::arp_claimant(frame, v4),
            IpAddr::V6(v6) => packet::na_claimant(frame, v6),
        };
        who.filter(|m| *m != self.mac)
    }
}

#[async_trait]
impl Wire for L2 {
    fn announce(&self) -> io::Result<u64> {
        for f in &self.announcement {
            self.sock.send(f)?;
        }
        Ok(self.announcement.len() as u64)
    }

    async fn answered_by(&self, window: Duration) -> io::Result<Option<Mac>> {
        let mut buf = [0u8; 256];
        // Whatever was queued before this probe says nothing about now.
        while self.sock.try_recv(&mut buf).is_some() {}
        let end = Instant::now() + window;
        // Two probes, half a window apart: one lost frame is not silence.
        let mut probes = [Instant::now(), Instant::now() + window / 2]
            .into_iter()
            .peekable();
        loop {
            let next_probe = probes.peek().copied();
            tokio::select! {
                _ = tokio::time::sleep_until(next_probe.unwrap_or(end)), if next_probe.is_some() => {
                    probes.next();
                    self.sock.send(&self.probe)?;
                }
                _ = tokio::time::sleep_until(end) => return Ok(None),
                r = self.sock.recv(&mut buf) => {
                    let n = r?;
                    if let Some(m) = self.claimant(&buf[..n]) {
                        return Ok(Some(m));
                    }
                }
            }
        }
    }
}
