//! Who holds the VIP as etcd says, over time: the election's keys watched
//! from the LAN, one watcher per member (so a member cut off or stopped
//! delays nothing), merged by revision. The holder is the key with the
//! lowest create revision; its value names the node's MAC. A client-side
//! answer or gratuitous ARP from any other MAC is a stale one.
//!
//! The client certificate is issued here from the etcd CA in the cluster's
//! generated `controlplane.yaml`, so this works for VMs as for the netns
//! lab.

use crate::arpwatch::{mac, Mac};
use crate::cluster::Cluster;
use etcd_client::{
    Certificate, Client, ConnectOptions, EventType, GetOptions, Identity, TlsOptions, WatchOptions,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Every wait on etcd is bounded by this, so a watcher sees its stop.
const STEP: Duration = Duration::from_secs(2);

/// (when, the holder's MAC) at every change.
pub type Leaders = Vec<(Instant, Option<Mac>)>;

#[derive(Default)]
struct State {
    /// Highest revision applied.
    applied: i64,
    /// key -> (create revision, MAC named by its value)
    keys: BTreeMap<Vec<u8>, (i64, Option<Mac>)>,
    leaders: Leaders,
}

impl State {
    fn leader(&self) -> Option<Mac> {
        self.keys
            .values()
            .min_by_key(|(rev, _)| *rev)
            .and_then(|(_, m)| *m)
    }

    fn note(&mut self, at: Instant) {
        let now = self.leader();
        if self.leaders.last().map(|(_, m)| *m) != Some(now) {
            self.leaders.push((at, now));
        }
    }
}

fn value_mac(v: &[u8]) -> Option<Mac> {
    let j: serde_json::Value = serde_json::from_slice(v).ok()?;
    mac(j["mac"].as_str()?)
}

pub struct Election {
    stop: Arc<AtomicBool>,
    state: Arc<Mutex<State>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// TLS for etcd from the cluster's etcd CA: (ca, cert, key) PEM.
fn tls(c: &Cluster) -> TlsOptions {
    let cfg: yaml_serde::Value = yaml_serde::from_str(
        &std::fs::read_to_string(c.dir.0.join(&c.name).join("controlplane.yaml"))
            .expect("controlplane.yaml"),
    )
    .expect("controlplane.yaml parses");
    let ca = &cfg["cluster"]["etcd"]["ca"];
    let pem = |k: &str| machined_pki::unb64(ca[k].as_str().unwrap_or_default()).expect("etcd CA");
    let ca = machined_pki::CertKey {
        cert_pem: pem("crt"),
        key_pem: pem("key"),
    };
    let leaf = ca
        .issue(&machined_pki::Leaf {
            common_name: "machined-tests".into(),
            orgs: vec![],
            sans: vec![],
            server: false,
            client: true,
            days: 1,
        })
        .expect("etcd client certificate");
    TlsOptions::new()
        .ca_certificate(Certificate::from_pem(&ca.cert_pem))
        .identity(Identity::from_pem(&leaf.cert_pem, &leaf.key_pem))
}

async fn connect(ep: &str, tls: TlsOptions) -> Option<Client> {
    let o = ConnectOptions::new()
        .with_tls(tls)
        .with_connect_timeout(STEP)
        .with_keep_alive(Duration::from_secs(1), Duration::from_secs(1));
    tokio::time::timeout(STEP, Client::connect([ep], Some(o)))
        .await
        .ok()?
        .ok()
}

/// Watches from `from` through member `ep` until `stop`, reconnecting.
async fn follow(
    ep: String,
    tls: TlsOptions,
    prefix: String,
    from: i64,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let start = state.lock().unwrap().applied.max(from - 1) + 1;
        let Some(mut c) = connect(&ep, tls.clone()).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let opts = WatchOptions::new().with_prefix().with_start_revision(start);
        // The client connects lazily: a member whose link is down would
        // keep this waiting for ever.
        let Ok(Ok(mut events)) =
            tokio::time::timeout(STEP, c.watch(prefix.clone(), Some(opts))).await
        else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        while !stop.load(Ordering::Relaxed) {
            let msg = tokio::time::timeout(Duration::from_millis(200), events.message()).await;
            let resp = match msg {
                Err(_) => continue,
                Ok(Ok(Some(r))) => r,
                Ok(_) => break,
            };
            let now = Instant::now();
            let mut s = state.lock().unwrap();
            for e in resp.events() {
                let Some(kv) = e.kv() else { continue };
                if kv.mod_revision() <= s.applied {
                    continue; // another member's watcher was first
                }
                s.applied = kv.mod_revision();
                match e.event_type() {
                    EventType::Put => {
                        s.keys.insert(
                            kv.key().to_vec(),
                            (kv.create_revision(), value_mac(kv.value())),
                        );
                    }
                    EventType::Delete => {
                        s.keys.remove(kv.key());
                    }
                }
                s.note(now);
            }
        }
    }
}

impl Cluster {
    /// The etcd keys of the election VIP `vip` is held through: its own,
    /// or its VIP group's (as the first control plane's VIPStatus names it).
    pub fn election_prefix(&self, vip: &str) -> String {
        let group = self
            .cps()
            .first()
            .and_then(|cp| self.get_one(&cp.2, "vipstatus", vip))
            .and_then(|st| st["spec"]["group"].as_str().map(str::to_string))
            .unwrap_or_default();
        if group.is_empty() {
            format!("machined/vip/{vip}/")
        } else {
            format!("machined/vip-group/{group}/")
        }
    }

    /// Starts following the election of VIP `vip` through every control
    /// plane's etcd; returns once the current holder is known.
    pub fn election(&self, vip: &str) -> Election {
        let eps: Vec<String> = self
            .cps()
            .iter()
            .map(|c| format!("https://{}:2379", c.2))
            .collect();
        let (lan, tls, prefix) = (self.lan(), tls(self), self.election_prefix(vip));
        let state: Arc<Mutex<State>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        // In the LAN's namespace, on a runtime of its own.
        let in_lan = |f: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>| {
            let lan = lan.clone();
            std::thread::spawn(move || {
                if crate::ns::enter(&lan).is_ok() {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    rt.block_on(f);
                }
            })
        };
        let read = {
            let (eps, tls, prefix, state) =
                (eps.clone(), tls.clone(), prefix.clone(), state.clone());
            in_lan(Box::pin(async move {
                current(&eps, tls, &prefix, &state).await;
            }))
        };
        let _ = read.join();
        let from = state.lock().unwrap().applied + 1;
        assert!(from > 1, "could not read the election of {vip} from etcd");
        let threads = eps
            .into_iter()
            .map(|ep| {
                let (tls, prefix, state, stop) =
                    (tls.clone(), prefix.clone(), state.clone(), stop.clone());
                in_lan(Box::pin(follow(ep, tls, prefix, from, state, stop)))
            })
            .collect();
        Election {
            stop,
            state,
            threads,
        }
    }
}

/// Reads the election's keys as they are now, through any member.
async fn current(eps: &[String], tls: TlsOptions, prefix: &str, state: &Mutex<State>) {
    for ep in eps {
        let Some(mut c) = connect(ep, tls.clone()).await else {
            continue;
        };
        let Ok(Ok(r)) =
            tokio::time::timeout(STEP, c.get(prefix, Some(GetOptions::new().with_prefix()))).await
        else {
            continue;
        };
        let mut s = state.lock().unwrap();
        s.applied = r.header().map(|h| h.revision()).unwrap_or_default();
        for kv in r.kvs() {
            s.keys.insert(
                kv.key().to_vec(),
                (kv.create_revision(), value_mac(kv.value())),
            );
        }
        s.note(Instant::now());
        return;
    }
}

impl Election {
    /// The holder's MAC at every change so far.
    pub fn leaders(&self) -> Leaders {
        self.state.lock().unwrap().leaders.clone()
    }

    pub fn stop(mut self) -> Leaders {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.leaders()
    }
}

impl Drop for Election {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
