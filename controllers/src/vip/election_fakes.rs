//! A scripted elector for the election session's unit tests: it logs what
//! the session asked of it, lets the test hold campaigns, delete the key,
//! lose the lease, show a holder and list candidates.

use super::deps::Deps;
use super::election;
use super::election_error::SessionError;
use super::elector::{Campaign, Elector};
use super::fakes::{FakeAddrs, FakeProof, FakeWire};
use super::keepalive::LeaseState;
use super::observe::Holder as Observed;
use super::probe::Prober;
use super::runner::{Desire, Shared};
use super::shared::LetGo;
use super::shared::Task;
use super::wire::{Wire, Wires};
use crate::kernel::packet::Mac;
use crate::Waker;
use async_trait::async_trait;
use etcd_client::LeaderKey;
use futures::future::BoxFuture;
use futures::FutureExt;
use machined_resources::types::VipSpec;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// What the test scripts and what the elector saw.
#[derive(Default)]
pub struct Script {
    pub log: Mutex<Vec<String>>,
    pub release_fails: bool,
    /// Campaigns wait here until released (none: they win at once).
    pub hold_campaign: Option<Notify>,
    pub key_deleted: Notify,
    pub lease_lost: Notify,
    pub addrs: Arc<FakeAddrs>,
    /// The holder the session observes (polled).
    pub seen: Mutex<Option<Observed>>,
    /// What a candidates listing returns.
    pub candidates: Mutex<Vec<Observed>>,
    /// The value of every campaign begun.
    pub values: Mutex<Vec<String>>,
    /// The pending move request's target (polled); requests and clears
    /// made through the elector write it too.
    pub move_to: Mutex<Option<String>>,
    /// Every wire opened, in order, with its MAC.
    pub wires: Mutex<Vec<(Mac, Arc<FakeWire>)>>,
    /// What confirmations of the leader key say.
    pub proof: Arc<FakeProof>,
    /// The nodes watched for a return (deposed holders).
    pub returns: Mutex<Vec<String>>,
    /// The member that answers a look for quorum (none: no quorum).
    pub quorum: Arc<Mutex<Option<String>>>,
    /// Who else owns each address (none: nobody, this session takes it).
    pub owners: Arc<Mutex<std::collections::HashMap<IpAddr, String>>>,
    /// What a group's member watch reports (sent once).
    pub group_note: Mutex<String>,
    /// The member lists a group's sessions put.
    pub group_members: Mutex<Vec<Vec<IpAddr>>>,
    /// How many addresses were in the kernel at each release.
    pub held_at_release: Mutex<Vec<usize>>,
}

impl Script {
    pub fn log(&self, what: impl Into<String>) {
        self.log.lock().unwrap().push(what.into());
    }

    pub fn entries(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub fn present(&self) -> bool {
        *self.addrs.present.lock().unwrap()
    }
}

pub struct FakeElector(pub Arc<Script>);
struct FakeCampaign(Arc<Script>);

#[async_trait]
impl Elector for FakeElector {
    async fn connect(&self, _: &Desire) -> Result<Box<dyn Campaign>, SessionError> {
        self.0.log("connect");
        Ok(Box::new(FakeCampaign(self.0.clone())))
    }

    fn quorum(&self, _: &Desire) -> Arc<dyn super::elector::QuorumLook> {
        Arc::new(FakeQuorum(self.0.quorum.clone()))
    }
}

/// A look for quorum says what the script says.
pub struct FakeQuorum(pub Arc<Mutex<Option<String>>>);

impl super::elector::QuorumLook for FakeQuorum {
    fn look(&self, _: Duration) -> BoxFuture<'_, Option<String>> {
        let q = self.0.lock().unwrap().clone();
        async move { q }.boxed()
    }
}

#[async_trait]
impl Campaign for FakeCampaign {
    fn member(&self) -> &str {
        "fake"
    }
    async fn grant(&self, _: u32) -> Result<i64, SessionError> {
        self.0.log("grant");
        Ok(7)
    }
    fn keep_alive(
        &self,
        _: i64,
        _: Duration,
        _: Instant,
        tx: watch::Sender<LeaseState>,
        _: Arc<Notify>,
    ) -> Task {
        let s = self.0.clone();
        async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {
                        let _ = tx.send(LeaseState::Acked(Instant::now()));
                    }
                    _ = s.lease_lost.notified() => {
                        let _ = tx.send(LeaseState::Lost);
                        return std::future::pending().await;
                    }
                }
            }
        }
        .boxed()
    }
    fn observe(&self, _: String, tx: watch::Sender<Option<Observed>>) -> Task {
        let s = self.0.clone();
        async move {
            loop {
                let now = s.seen.lock().unwrap().clone();
                tx.send_if_modified(|cur| std::mem::replace(cur, now.clone()) != now);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        .boxed()
    }
    fn probe(&self, _: Prober, _: watch::Receiver<Option<Observed>>) -> Task {
        std::future::pending().boxed()
    }
    async fn campaign(&self, _: &str, value: &str, lease: i64) -> Result<LeaderKey, SessionError> {
        self.0.values.lock().unwrap().push(value.to_string());
        if let Some(n) = &self.0.hold_campaign {
            n.notified().await;
        }
        self.0.log("won");
        Ok(LeaderKey::new().with_key("k").with_lease(lease))
    }
    async fn candidates(&self, _: &str) -> Result<Vec<Observed>, SessionError> {
        Ok(self.0.candidates.lock().unwrap().clone())
    }
    fn key_gone(&self, _: &LeaderKey) -> BoxFuture<'static, LetGo> {
        let s = self.0.clone();
        async move {
            s.key_deleted.notified().await;
            LetGo::KeyDeleted
        }
        .boxed()
    }
    fn keep_leadership_away(&self, _: &Desire) -> Option<Task> {
        None
    }
    fn observe_move(&self, _: IpAddr, tx: watch::Sender<Option<String>>) -> Task {
        let s = self.0.clone();
        async move {
            let first = s.move_to.lock().unwrap().clone();
            tx.send_replace(first);
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
                let now = s.move_to.lock().unwrap().clone();
                tx.send_if_modified(|cur| std::mem::replace(cur, now.clone()) != now);
            }
        }
        .boxed()
    }
    async fn request_move(&self, _: IpAddr, to: &str, _: u32) -> Result<(), SessionError> {
        self.0.log(format!("move to {to}"));
        *self.0.move_to.lock().unwrap() = Some(to.to_string());
        Ok(())
    }
    async fn clear_move(&self, _: IpAddr, to: &str) -> Result<(), SessionError> {
        self.0.log(format!("clear move to {to}"));
        let mut m = self.0.move_to.lock().unwrap();
        if m.as_deref() == Some(to) {
            *m = None;
        }
        Ok(())
    }
    fn owner(&self, ip: IpAddr, _: &str, _: i64) -> Arc<dyn super::owner_key::Owner> {
        Arc::new(FakeOwner(self.0.owners.clone(), ip))
    }
    fn watch_group_members(
        &self,
        _: (String, String),
        members: Vec<IpAddr>,
        _: i64,
        tx: watch::Sender<String>,
    ) -> Task {
        self.0.group_members.lock().unwrap().push(members);
        tx.send_replace(self.0.group_note.lock().unwrap().clone());
        std::future::pending().boxed()
    }
    async fn proclaim(&self, _: &LeaderKey, value: &str) -> Result<(), SessionError> {
        self.0.log(format!("proclaim {value}"));
        Ok(())
    }
    fn confirmer(
        &self,
        _: &LeaderKey,
        _: i64,
        _: std::time::Duration,
    ) -> Arc<dyn super::proof::Confirm> {
        Arc::new(self.0.proof.clone())
    }
    async fn release(&self, _: LeaderKey, _: i64) -> Result<(), SessionError> {
        self.0
            .log(format!("release, address present: {}", self.0.present()));
        let held = self.0.addrs.held.lock().unwrap().len();
        self.0.held_at_release.lock().unwrap().push(held);
        if self.0.release_fails {
            return Err(SessionError::Timeout {
                what: "lease revoke",
                after: Duration::from_secs(1),
            });
        }
        Ok(())
    }
    async fn revoke(&self, _: i64) -> Result<(), SessionError> {
        self.0.log("revoke");
        Ok(())
    }
    async fn revoke_elsewhere(&self, _: &Desire, _: i64) -> Result<(), SessionError> {
        self.0.log(format!(
            "revoke elsewhere, address present: {}",
            self.0.present()
        ));
        Ok(())
    }
}

/// Opens fake wires and keeps each with the MAC it was opened with, so a
/// test can see what each announced.
pub struct FakeWires(pub Arc<Script>);

impl Wires for FakeWires {
    fn open(&self, _: u32, mac: Mac, _: IpAddr) -> std::io::Result<Arc<dyn Wire>> {
        let w = Arc::new(FakeWire::default());
        self.0.wires.lock().unwrap().push((mac, w.clone()));
        Ok(w)
    }
    fn watch_return(
        &self,
        _: u32,
        _: Mac,
        prev: &Observed,
        _: IpAddr,
        _: tokio::sync::mpsc::Sender<super::shared::Cue>,
    ) -> Task {
        self.0.returns.lock().unwrap().push(prev.node.clone());
        std::future::pending().boxed()
    }
}

/// Owns an address unless the script says another session does.
struct FakeOwner(
    Arc<Mutex<std::collections::HashMap<IpAddr, String>>>,
    IpAddr,
);

impl super::owner_key::Owner for FakeOwner {
    fn own(&self) -> BoxFuture<'_, Result<Option<String>, SessionError>> {
        let other = self.0.lock().unwrap().get(&self.1).cloned();
        async move { Ok(other) }.boxed()
    }
}

pub fn eligible(yes: bool) -> Desire {
    Desire {
        eligible: yes,
        node: "cp1".into(),
        node_ip: "10.5.0.11".parse().ok(),
        link_index: 2,
        mac: Some([2, 0, 0, 0, 0, 1]),
        ..Default::default()
    }
}

/// Starts a runner with `script`; returns its desire sender and view.
pub fn start(script: &Arc<Script>) -> (watch::Sender<Desire>, Arc<Shared>) {
    start_with(script, eligible(true))
}

/// Starts a runner with `script` and a first desire.
pub fn start_with(script: &Arc<Script>, first: Desire) -> (watch::Sender<Desire>, Arc<Shared>) {
    let spec = VipSpec {
        ip: "10.5.0.50".parse().unwrap(),
        link: "eth0".into(),
        options: Default::default(),
    };
    let (tx, views) = start_group(script, vec![spec], first);
    (tx, views[0].clone())
}

/// Starts the runner of a group of `specs` (by address, the lead first);
/// returns its desire sender and each member's view.
pub fn start_group(
    script: &Arc<Script>,
    specs: Vec<VipSpec>,
    first: Desire,
) -> (watch::Sender<Desire>, Vec<Arc<Shared>>) {
    let deps = Deps {
        addrs: script.addrs.clone(),
        wires: Arc::new(FakeWires(script.clone())),
        elector: Arc::new(FakeElector(script.clone())),
    };
    let (tx, rx) = watch::channel(first);
    let views: Vec<_> = specs
        .iter()
        .map(|_| Shared::new(Waker::default()))
        .collect();
    let group = super::group::Group {
        specs,
        views: views.clone(),
    };
    tokio::spawn(election::run(group, rx, deps));
    (tx, views)
}

pub async fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
