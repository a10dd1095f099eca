//! A fake address table, a fake link and a scripted proof, for the
//! holder's, the speaker's and the election's unit tests.

use super::proof::{Confirm, Proof};
use super::wire::Wire;
use crate::kernel::ask::{Asker, Heard};
use crate::kernel::packet::Mac;
use crate::kernel::vip_addr::{AddError, VipAddrs};
use crate::kernel::NetError;
use async_trait::async_trait;
use futures::future::BoxFuture;
use futures::FutureExt;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Default)]
pub struct FakeAddrs {
    pub present: Mutex<bool>,
    /// Every address added and not removed since (a group's members).
    pub held: Mutex<std::collections::BTreeSet<IpAddr>>,
    /// (lifetime, create_only) of every add.
    pub adds: Mutex<Vec<(u32, bool)>>,
    /// Removals that fail before one works.
    pub failing_removals: AtomicU32,
    pub removals: AtomicU32,
    /// Time an add takes (a stall between the clock and the kernel).
    pub add_takes: Mutex<Duration>,
    /// Times the link was made quiet; whether it must fail.
    pub silenced: AtomicU32,
    pub silence_fails: Mutex<bool>,
}

impl VipAddrs for FakeAddrs {
    fn silence(&self, _: u32) -> Result<bool, NetError> {
        if *self.silence_fails.lock().unwrap() {
            return Err(NetError::new("silence link", "all.arp_ignore is 3"));
        }
        Ok(self.silenced.fetch_add(1, Ordering::SeqCst) == 0)
    }
    fn add(&self, ip: IpAddr, lifetime: u32, create_only: bool) -> Result<(), AddError> {
        std::thread::sleep(*self.add_takes.lock().unwrap());
        self.adds.lock().unwrap().push((lifetime, create_only));
        let mut p = self.present.lock().unwrap();
        self.held.lock().unwrap().insert(ip);
        if *p && create_only {
            return Err(AddError::Exists);
        }
        *p = true;
        Ok(())
    }
    fn remove(&self, ip: IpAddr) -> Result<(), NetError> {
        self.removals.fetch_add(1, Ordering::SeqCst);
        if self.failing_removals.load(Ordering::SeqCst) > 0 {
            self.failing_removals.fetch_sub(1, Ordering::SeqCst);
            return Err(NetError::errno("remove", 16));
        }
        *self.present.lock().unwrap() = false;
        self.held.lock().unwrap().remove(&ip);
        Ok(())
    }
    fn present(&self, _: IpAddr) -> Result<bool, NetError> {
        Ok(*self.present.lock().unwrap())
    }
    fn marked(&self) -> Result<Vec<(u32, IpAddr)>, NetError> {
        Ok(Vec::new())
    }
    fn remove_from(&self, _: u32, ip: IpAddr) -> Result<(), NetError> {
        self.remove(ip)
    }
}

/// A link the test talks on: what it is told to hear, and what was sent.
#[derive(Default)]
pub struct FakeWire {
    /// Probes answered by someone else before silence.
    pub answers_left: AtomicU32,
    pub announced: AtomicU64,
    /// Frames waiting to be heard.
    pub inbox: Mutex<VecDeque<Heard>>,
    pub arrived: Notify,
    /// Every answer sent, in order.
    pub answers: Mutex<Vec<Asker>>,
    pub probes: AtomicU64,
    /// Times queued frames were dropped unheard.
    pub drains: AtomicU64,
}

impl FakeWire {
    /// Something arrives on the link.
    pub fn deliver(&self, h: Heard) {
        self.inbox.lock().unwrap().push_back(h);
        self.arrived.notify_one();
    }
}

#[async_trait]
impl Wire for FakeWire {
    fn announce(&self) -> std::io::Result<u64> {
        self.announced.fetch_add(2, Ordering::SeqCst);
        Ok(2)
    }
    async fn answered_by(&self, window: Duration) -> std::io::Result<Option<Mac>> {
        tokio::time::sleep(window).await;
        if self.answers_left.load(Ordering::SeqCst) > 0 {
            self.answers_left.fetch_sub(1, Ordering::SeqCst);
            return Ok(Some([2, 0, 0, 0, 0, 9]));
        }
        Ok(None)
    }
    async fn hear(&self) -> std::io::Result<Heard> {
        loop {
            if let Some(h) = self.try_hear() {
                return Ok(h);
            }
            self.arrived.notified().await;
        }
    }
    fn try_hear(&self) -> Option<Heard> {
        self.inbox.lock().unwrap().pop_front()
    }
    fn drain(&self) {
        self.drains.fetch_add(1, Ordering::SeqCst);
        self.inbox.lock().unwrap().clear();
    }
    fn answer(&self, who: &Asker) -> std::io::Result<()> {
        self.answers.lock().unwrap().push(*who);
        Ok(())
    }
    fn probe(&self) -> std::io::Result<()> {
        self.probes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A proof the test scripts: every confirmation returns `answer` after
/// `takes`, and is counted.
pub struct FakeProof {
    pub answer: Mutex<Proof>,
    pub takes: Mutex<Duration>,
    pub asked: AtomicU64,
}

impl Default for FakeProof {
    fn default() -> Self {
        FakeProof {
            answer: Mutex::new(Proof::Held),
            takes: Mutex::new(Duration::ZERO),
            asked: AtomicU64::new(0),
        }
    }
}

impl Confirm for Arc<FakeProof> {
    fn confirm(&self) -> BoxFuture<'static, Proof> {
        let me = self.clone();
        async move {
            me.asked.fetch_add(1, Ordering::SeqCst);
            let takes = *me.takes.lock().unwrap();
            tokio::time::sleep(takes).await;
            *me.answer.lock().unwrap()
        }
        .boxed()
    }
}

/// Links where nobody else answers: every wire is a silent [`FakeWire`]
/// (an address check finds no conflict); nobody deposed comes back.
pub struct QuietWires;

impl super::wire::Wires for QuietWires {
    fn open(&self, _: u32, _: Mac, _: IpAddr) -> std::io::Result<Arc<dyn Wire>> {
        Ok(Arc::new(FakeWire::default()))
    }
    fn watch_return(
        &self,
        _: u32,
        _: Mac,
        _: &super::observe::Holder,
        _: IpAddr,
        _: tokio::sync::mpsc::Sender<super::shared::Cue>,
    ) -> super::shared::Task {
        std::future::pending().boxed()
    }
}
