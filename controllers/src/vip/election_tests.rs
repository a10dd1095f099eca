//! The election session without etcd or the kernel: a scripted elector, a
//! fake address table and a fake link. What is checked is the order that
//! keeps one holder: the address is gone (and confirmed) before the resign,
//! a failed resign is followed by a revoke through another member, and the
//! lease is revoked when the node stops being eligible while campaigning.

use super::election;
use super::election_error::SessionError;
use super::elector::{Campaign, Elector, Task};
use super::fakes::{FakeAddrs, FakeWire};
use super::holder::LetGo;
use super::keepalive::LeaseState;
use super::observe::Holder as Observed;
use super::probe::Prober;
use super::runner::{Deps, Desire, Shared};
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
struct Script {
    log: Mutex<Vec<String>>,
    resign_fails: bool,
    /// Campaigns wait here until released (none: they win at once).
    hold_campaign: Option<Notify>,
    key_deleted: Notify,
    lease_lost: Notify,
    addrs: Arc<FakeAddrs>,
}

impl Script {
    fn log(&self, what: impl Into<String>) {
        self.log.lock().unwrap().push(what.into());
    }

    fn entries(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn present(&self) -> bool {
        *self.addrs.present.lock().unwrap()
    }
}

struct FakeElector(Arc<Script>);
struct FakeCampaign(Arc<Script>);

#[async_trait]
impl Elector for FakeElector {
    async fn connect(&self, _: &Desire) -> Result<Box<dyn Campaign>, SessionError> {
        self.0.log("connect");
        Ok(Box::new(FakeCampaign(self.0.clone())))
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
    fn observe(&self, _: String, _: watch::Sender<Option<Observed>>) -> Task {
        std::future::pending().boxed()
    }
    fn probe(&self, _: Prober, _: watch::Receiver<Option<Observed>>) -> Task {
        std::future::pending().boxed()
    }
    async fn campaign(&self, _: &str, _: &str, lease: i64) -> Result<LeaderKey, SessionError> {
        if let Some(n) = &self.0.hold_campaign {
            n.notified().await;
        }
        self.0.log("won");
        Ok(LeaderKey::new().with_key("k").with_lease(lease))
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
    async fn resign(&self, _: LeaderKey) -> Result<(), SessionError> {
        self.0
            .log(format!("resign, address present: {}", self.0.present()));
        if self.0.resign_fails {
            return Err(SessionError::Timeout {
                what: "resign",
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

struct FakeWires;

impl Wires for FakeWires {
    fn open(&self, _: u32, _: Mac, _: IpAddr) -> std::io::Result<Arc<dyn Wire>> {
        Ok(Arc::new(FakeWire::default()))
    }
}

fn eligible(yes: bool) -> Desire {
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
fn start(script: &Arc<Script>) -> (watch::Sender<Desire>, Arc<Shared>) {
    let spec = VipSpec {
        ip: "10.5.0.50".parse().unwrap(),
        link: "eth0".into(),
        options: Default::default(),
    };
    let deps = Deps {
        addrs: script.addrs.clone(),
        wires: Arc::new(FakeWires),
        elector: Arc::new(FakeElector(script.clone())),
    };
    let (tx, rx) = watch::channel(eligible(true));
    let shared = Shared::new(Waker::default());
    tokio::spawn(election::run(spec, rx, shared.clone(), deps));
    (tx, shared)
}

async fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn ineligible_holder_removes_the_address_before_it_resigns() {
    let script = Arc::new(Script::default());
    let (desire, shared) = start(&script);
    until("the address", || script.present()).await;
    assert!(shared.view().leading);
    desire.send_replace(eligible(false));
    until("the revoke", || {
        script.entries().contains(&"revoke".to_string())
    })
    .await;
    assert_eq!(
        script.entries(),
        [
            "connect",
            "grant",
            "won",
            "resign, address present: false",
            "revoke"
        ]
    );
    assert!(!script.present());
}

#[tokio::test]
async fn a_failed_resign_is_followed_by_a_revoke_through_another_member() {
    let script = Arc::new(Script {
        resign_fails: true,
        ..Default::default()
    });
    let (desire, _shared) = start(&script);
    until("the address", || script.present()).await;
    desire.send_replace(eligible(false));
    let elsewhere = "revoke elsewhere, address present: false".to_string();
    until("the revoke elsewhere", || {
        script.entries().contains(&elsewhere)
    })
    .await;
    assert_eq!(
        script.entries()[3..],
        ["resign, address present: false".to_string(), elsewhere]
    );
}

#[tokio::test]
async fn a_deleted_key_or_a_lost_lease_lets_go_address_first() {
    for lost in [false, true] {
        let script = Arc::new(Script::default());
        let (_desire, _shared) = start(&script);
        until("the address", || script.present()).await;
        if lost {
            script.lease_lost.notify_one();
        } else {
            script.key_deleted.notify_one();
        }
        until("the resign", || script.entries().len() >= 4).await;
        assert_eq!(
            script.entries()[3],
            "resign, address present: false",
            "lost: {lost}"
        );
    }
}

#[tokio::test]
async fn ineligible_while_campaigning_revokes_and_never_adds() {
    let script = Arc::new(Script {
        hold_campaign: Some(Notify::new()),
        ..Default::default()
    });
    let (desire, _shared) = start(&script);
    until("the grant", || {
        script.entries().contains(&"grant".to_string())
    })
    .await;
    desire.send_replace(eligible(false));
    until("the revoke", || {
        script.entries().contains(&"revoke".to_string())
    })
    .await;
    assert_eq!(script.entries(), ["connect", "grant", "revoke"]);
    assert!(!script.present());
    assert!(script.addrs.adds.lock().unwrap().is_empty());
}
