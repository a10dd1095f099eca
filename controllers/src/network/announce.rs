//! Announcing addresses: a burst of gratuitous ARPs (IPv4) or unsolicited
//! neighbour advertisements (IPv6) right after an address is added, then an
//! optional periodic refresh while it is held. One task per address.

use crate::net::packet::{self, Mac, PacketSocket};
use crate::Waker;
use machined_resources::types::Announce;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::task::JoinHandle;

/// When each address was last announced, and how many frames went out.
pub type Sent = Arc<Mutex<HashMap<IpAddr, (SystemTime, u64)>>>;

#[derive(Default)]
pub struct Announcer {
    tasks: HashMap<(u32, IpAddr), JoinHandle<()>>,
    pub sent: Sent,
}

impl Announcer {
    /// (Re)starts announcing `ip` on link `index` from `mac`.
    pub fn start(&mut self, index: u32, mac: Mac, ip: IpAddr, a: Announce, waker: Waker) {
        if let Some(t) = self.tasks.remove(&(index, ip)) {
            t.abort();
        }
        let sent = self.sent.clone();
        self.tasks.insert(
            (index, ip),
            tokio::spawn(run(index, mac, ip, a, sent, waker)),
        );
    }

    /// Announcing `ip` was started (the burst may be over).
    pub fn has(&self, index: u32, ip: IpAddr) -> bool {
        self.tasks.contains_key(&(index, ip))
    }

    /// Stops announcing everything not in `keep`.
    pub fn retain(&mut self, keep: &[(u32, IpAddr)]) {
        self.tasks.retain(|k, t| {
            let stay = keep.contains(k);
            if !stay {
                t.abort();
            }
            stay
        });
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|ip, _| keep.iter().any(|(_, k)| k == ip));
    }
}

impl Drop for Announcer {
    fn drop(&mut self) {
        for t in self.tasks.values() {
            t.abort();
        }
    }
}

fn frames(mac: Mac, ip: IpAddr) -> Vec<Vec<u8>> {
    match ip {
        IpAddr::V4(v4) => packet::gratuitous_arp(mac, v4).to_vec(),
        IpAddr::V6(v6) => vec![packet::unsolicited_na(mac, v6)],
    }
}

async fn run(index: u32, mac: Mac, ip: IpAddr, a: Announce, sent: Sent, waker: Waker) {
    let sock = match ip {
        IpAddr::V4(_) => PacketSocket::arp(index),
        IpAddr::V6(_) => PacketSocket::ipv6(index),
    };
    let sock = match sock {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(%ip, link_index = index, error = %e, "cannot open packet socket to announce");
            return;
        }
    };
    let frames = frames(mac, ip);
    let send = |round: u32| {
        for f in &frames {
            if let Err(e) = sock.send(f) {
                tracing::warn!(%ip, error = %e, round, "announce failed");
                return;
            }
        }
        let mut s = sent.lock().unwrap_or_else(|e| e.into_inner());
        let e = s.entry(ip).or_insert((SystemTime::now(), 0));
        *e = (SystemTime::now(), e.1 + frames.len() as u64);
        drop(s);
        waker.wake();
    };
    for i in 0..a.count {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(a.interval_ms)).await;
        }
        send(i);
    }
    tracing::debug!(%ip, count = a.count, "announced");
    if a.refresh_ms == 0 {
        return;
    }
    let mut round = a.count;
    loop {
        tokio::time::sleep(Duration::from_millis(a.refresh_ms)).await;
        send(round);
        round += 1;
    }
}
