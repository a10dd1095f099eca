//! The real [`Wire`]s: raw packet sockets on the VIP's link.

use super::wire::{Wire, Wires};
use crate::kernel::ask::{self, Asker, Heard};
use crate::kernel::packet::{self, Mac, PacketSocket};
use async_trait::async_trait;
use std::io;
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The real one: raw packet sockets.
pub struct L2Wires;

impl Wires for L2Wires {
    fn open(&self, link_index: u32, mac: Mac, ip: IpAddr) -> io::Result<Arc<dyn Wire>> {
        let sock = PacketSocket::for_address(link_index, ip)?;
        let (announcement, probe, group) = match ip {
            IpAddr::V4(v4) => (
                packet::gratuitous_arp(mac, v4).to_vec(),
                packet::arp_probe(mac, v4),
                None,
            ),
            IpAddr::V6(v6) => (
                vec![packet::unsolicited_na(mac, v6)],
                packet::dad_solicit(mac, v6),
                Some(crate::kernel::socket::join_solicited_node(link_index, v6)?),
            ),
        };
        Ok(Arc::new(L2 {
            ip,
            mac,
            sock,
            announcement,
            probe,
            _group: group,
        }))
    }

    fn watch_return(
        &self,
        link_index: u32,
        mac: Mac,
        prev: &super::observe::Holder,
        vip: IpAddr,
        cue: tokio::sync::mpsc::Sender<super::shared::Cue>,
    ) -> super::shared::Task {
        use futures::FutureExt;
        super::deposed::watch(link_index, mac, prev.clone(), vip, cue).boxed()
    }
}

struct L2 {
    ip: IpAddr,
    mac: Mac,
    sock: PacketSocket,
    announcement: Vec<Vec<u8>>,
    probe: Vec<u8>,
    /// Membership of the address's solicited-node group (IPv6).
    _group: Option<OwnedFd>,
}

/// Largest frame read: ARP and NDP frames are far smaller.
const FRAME: usize = 256;

#[async_trait]
impl Wire for L2 {
    fn announce(&self) -> io::Result<u64> {
        for f in &self.announcement {
            self.sock.send(f)?;
        }
        Ok(self.announcement.len() as u64)
    }

    async fn answered_by(&self, window: Duration) -> io::Result<Option<Mac>> {
        // Whatever was queued before this probe says nothing about now.
        self.drain();
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
                    self.probe()?;
                }
                _ = tokio::time::sleep_until(end) => return Ok(None),
                h = self.hear() => {
                    if let Heard::Claimed(m) = h? {
                        return Ok(Some(m));
                    }
                }
            }
        }
    }

    async fn hear(&self) -> io::Result<Heard> {
        let mut buf = [0u8; FRAME];
        loop {
            let n = self.sock.recv(&mut buf).await?;
            if let Some(h) = ask::hear(&buf[..n], self.ip, self.mac) {
                return Ok(h);
            }
        }
    }

    fn try_hear(&self) -> Option<Heard> {
        let mut buf = [0u8; FRAME];
        while let Some(n) = self.sock.try_recv(&mut buf) {
            if let Some(h) = ask::hear(&buf[..n], self.ip, self.mac) {
                return Some(h);
            }
        }
        None
    }

    fn drain(&self) {
        let mut buf = [0u8; FRAME];
        while self.sock.try_recv(&mut buf).is_some() {}
    }

    fn answer(&self, who: &Asker) -> io::Result<()> {
        self.sock.send(&ask::answer(self.mac, self.ip, who))
    }

    fn probe(&self) -> io::Result<()> {
        self.sock.send(&self.probe)
    }
}
