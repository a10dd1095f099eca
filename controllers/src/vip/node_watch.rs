//! Holders' node addresses, each probed once per node, whatever the number
//! of VIPs it holds: every session that watches the same holder on the
//! same link (with the same timing) shares one probe stream and one
//! socket, instead of each sending its own probes and each socket reading
//! every other session's answers. The VIP itself is still probed per VIP
//! (only its holder's proof answers for it).
//!
//! A shared watch runs while anyone subscribes. It reports a death (no
//! answer for `dead_after`) to everyone subscribed at the time, then starts
//! over: a later death needs another `dead_after` of silence, as a watch
//! begun afresh would.

use super::probe_target::{until_silent, Probed, Target};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use tokio::sync::watch;
use tracing::Instrument;

/// One probe stream; aborted when its last subscriber goes.
struct Shared {
    /// Deaths seen so far.
    deaths: watch::Receiver<u64>,
    what: &'static str,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn registry() -> &'static Mutex<HashMap<Probed, Weak<Shared>>> {
    static R: OnceLock<Mutex<HashMap<Probed, Weak<Shared>>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// A session's hold on a shared watch of a holder's node address.
pub struct NodeWatch(Arc<Shared>);

impl NodeWatch {
    /// The shared watch of `key` (a holder's node address), started if
    /// nobody watches it yet; its silence means `what`. `None` when it
    /// cannot be probed.
    pub fn of(key: Probed, what: &'static str) -> Option<NodeWatch> {
        let mut r = registry().lock().unwrap_or_else(|e| e.into_inner());
        r.retain(|_, w| w.strong_count() > 0);
        if let Some(s) = r.get(&key).and_then(Weak::upgrade) {
            return Some(NodeWatch(s));
        }
        let target = Target::new(key, what)?;
        let (tx, deaths) = watch::channel(0);
        let span = tracing::info_span!("node-watch", holder = %key.ip, link = key.link);
        let task = tokio::spawn(run(target, tx).instrument(span));
        let s = Arc::new(Shared { deaths, what, task });
        r.insert(key, Arc::downgrade(&s));
        Some(NodeWatch(s))
    }

    /// Resolves at the first death reported after it was called: what the
    /// silence means.
    pub async fn silent(&self) -> &'static str {
        let mut rx = self.0.deaths.clone();
        rx.borrow_and_update();
        if rx.changed().await.is_err() {
            // The probing task is gone (it never ends by itself): no verdict.
            return std::future::pending().await;
        }
        self.0.what
    }
}

async fn run(mut target: Target, deaths: watch::Sender<u64>) {
    loop {
        if until_silent(std::slice::from_mut(&mut target))
            .await
            .is_some()
        {
            deaths.send_modify(|n| *n += 1);
        }
        target.restart();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::net::IpAddr;
    use std::time::Duration;

    /// Watches of `ip` running now.
    fn streams_of(ip: IpAddr) -> usize {
        registry()
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, w)| k.ip == ip && w.strong_count() > 0)
            .count()
    }

    /// Packet sockets need root: skipped without it, except in CI.
    fn root(what: &str) -> bool {
        if nix::unistd::Uid::effective().is_root() {
            return true;
        }
        assert!(
            std::env::var("CI").is_err(),
            "{what} needs root (packet sockets) and CI=true"
        );
        eprintln!("skipping {what}: needs root (packet sockets)");
        false
    }

    #[tokio::test]
    async fn sessions_share_one_stream_per_holder_and_timing_and_hear_its_death() {
        if !root("the shared node watch test") {
            return;
        }
        // On loopback nobody answers ARP: the holder is silent.
        let ip: IpAddr = "127.0.0.77".parse().unwrap();
        let me = [2, 0, 0, 0, 0, 1];
        let ms = Duration::from_millis;
        let of = |every, dead_after| {
            let p = Probed {
                link: 1,
                me,
                ip,
                mac: None,
                every,
                dead_after,
            };
            NodeWatch::of(p, "silent").unwrap()
        };
        let a = of(ms(20), ms(60));
        let b = of(ms(20), ms(60));
        assert_eq!(streams_of(ip), 1, "two sessions, one holder: one stream");
        let c = of(ms(50), ms(150));
        assert_eq!(streams_of(ip), 2, "other timing: its own stream");
        let (wa, wb) = tokio::join!(
            tokio::time::timeout(Duration::from_secs(5), a.silent()),
            tokio::time::timeout(Duration::from_secs(5), b.silent()),
        );
        assert_eq!((wa, wb), (Ok("silent"), Ok("silent")));
        drop((a, c));
        assert_eq!(streams_of(ip), 1);
        drop(b);
        assert_eq!(streams_of(ip), 0, "the last one gone, the stream stops");
    }
}
