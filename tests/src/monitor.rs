//! Watches which nodes' kernels have an address, from inside each node's
//! namespace over netlink (events plus a 10 ms poll), and measures the
//! longest time two had it at once. A node has it when the address is on
//! any of its links (a VIP lives on `lo`) and the given link is up: a dead
//! node whose link is down has nothing. Having a VIP in the kernel is not
//! answering for it (machined answers, with proof): this is the second
//! view, the client's ARP watch the first.

use futures::TryStreamExt;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage, State};
use rtnetlink::MulticastGroup;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// (when, node index, holds)
pub type Change = (Instant, usize, bool);

pub struct Monitor {
    stop: Arc<AtomicBool>,
    changes: Arc<Mutex<Vec<Change>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Monitor {
    /// Starts one watcher per namespace in `nodes`, for `vip` while `link`
    /// is up.
    pub fn start(nodes: &[String], link: &str, vip: IpAddr) -> Monitor {
        let stop = Arc::new(AtomicBool::new(false));
        let changes: Arc<Mutex<Vec<Change>>> = Arc::default();
        let threads = nodes
            .iter()
            .enumerate()
            .map(|(i, ns)| {
                let (ns, link, stop, changes) =
                    (ns.clone(), link.to_string(), stop.clone(), changes.clone());
                std::thread::spawn(move || {
                    if let Err(e) = crate::ns::enter(&ns) {
                        eprintln!("monitor: cannot enter {ns}: {e}");
                        return;
                    }
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    rt.block_on(watch(i, link, vip, stop, changes));
                })
            })
            .collect();
        Monitor {
            stop,
            changes,
            threads,
        }
    }

    /// Who holds it now, per node.
    pub fn holders(&self, n: usize) -> Vec<bool> {
        let mut h = vec![false; n];
        for (_, i, holds) in self.changes.lock().unwrap().iter() {
            if *i < n {
                h[*i] = *holds;
            }
        }
        h
    }

    pub fn changes(&self) -> Vec<Change> {
        self.changes.lock().unwrap().clone()
    }

    pub fn stop(mut self) -> Vec<Change> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.changes()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The longest stretch during which two or more nodes held the VIP.
pub fn longest_double(changes: &[Change], nodes: usize) -> Duration {
    let mut sorted = changes.to_vec();
    sorted.sort_by_key(|c| c.0);
    let mut holds = vec![false; nodes];
    let mut since: Option<Instant> = None;
    let mut longest = Duration::ZERO;
    for (t, i, h) in sorted {
        if i < nodes {
            holds[i] = h;
        }
        let many = holds.iter().filter(|x| **x).count() >= 2;
        match (many, since) {
            (true, None) => since = Some(t),
            (false, Some(s)) => {
                longest = longest.max(t - s);
                since = None;
            }
            _ => {}
        }
    }
    if let Some(s) = since {
        longest = longest.max(Instant::now() - s);
    }
    longest
}

fn link_up(m: &LinkMessage) -> bool {
    let oper = m.attributes.iter().find_map(|a| match a {
        LinkAttribute::OperState(s) => Some(*s),
        _ => None,
    });
    m.header.flags.contains(LinkFlags::Up) && matches!(oper, Some(State::Up) | Some(State::Unknown))
}

async fn watch(
    i: usize,
    link: String,
    vip: IpAddr,
    stop: Arc<AtomicBool>,
    changes: Arc<Mutex<Vec<Change>>>,
) {
    let Ok((conn, handle, _)) = rtnetlink::new_connection() else {
        return;
    };
    tokio::spawn(conn);
    let groups = [
        MulticastGroup::Link,
        MulticastGroup::Ipv4Ifaddr,
        MulticastGroup::Ipv6Ifaddr,
    ];
    let Ok((mconn, _, mut events)) = rtnetlink::new_multicast_connection(&groups) else {
        return;
    };
    tokio::spawn(mconn);
    let mut last: Option<bool> = None;
    while !stop.load(Ordering::Relaxed) {
        let links: Vec<LinkMessage> = handle
            .link()
            .get()
            .match_name(link.clone())
            .execute()
            .try_collect()
            .await
            .unwrap_or_default();
        let holds = match links.first() {
            Some(l) if link_up(l) => {
                let addrs: Vec<_> = handle
                    .address()
                    .get()
                    .execute()
                    .try_collect()
                    .await
                    .unwrap_or_default();
                addrs.iter().any(|a| {
                    a.attributes.iter().any(|x| matches!(x, AddressAttribute::Local(ip) | AddressAttribute::Address(ip) if *ip == vip))
                })
            }
            _ => false,
        };
        if last != Some(holds) {
            changes.lock().unwrap().push((Instant::now(), i, holds));
            last = Some(holds);
        }
        use futures::StreamExt;
        let _ = tokio::time::timeout(Duration::from_millis(10), events.next()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_ownership_is_measured() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        let ch = vec![
            (t, 0, true),
            (t + ms(100), 1, true),
            (t + ms(130), 0, false),
            (t + ms(200), 2, false),
        ];
        assert_eq!(longest_double(&ch, 3), ms(30));
        let clean = vec![
            (t, 0, true),
            (t + ms(100), 0, false),
            (t + ms(101), 1, true),
        ];
        assert_eq!(longest_double(&clean, 3), Duration::ZERO);
    }
}
