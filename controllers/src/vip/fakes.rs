//! A fake address table and a fake link, for the holder's and the
//! election's unit tests.

use super::wire::Wire;
use crate::kernel::packet::Mac;
use crate::kernel::vip_addr::{AddError, VipAddrs};
use crate::kernel::NetError;
use async_trait::async_trait;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Default)]
pub struct FakeAddrs {
    pub present: Mutex<bool>,
    /// (lifetime, create_only) of every add.
    pub adds: Mutex<Vec<(u32, bool)>>,
    /// Removals that fail before one works.
    pub failing_removals: AtomicU32,
    pub removals: AtomicU32,
    /// Time an add takes (a stall between the clock and the kernel).
    pub add_takes: Mutex<Duration>,
}

impl VipAddrs for FakeAddrs {
    fn add(&self, _: u32, _: IpAddr, lifetime: u32, create_only: bool) -> Result<(), AddError> {
        std::thread::sleep(*self.add_takes.lock().unwrap());
        self.adds.lock().unwrap().push((lifetime, create_only));
        let mut p = self.present.lock().unwrap();
        if *p && create_only {
            return Err(AddError::Exists);
        }
        *p = true;
        Ok(())
    }
    fn remove(&self, _: u32, _: IpAddr) -> Result<(), NetError> {
        self.removals.fetch_add(1, Ordering::SeqCst);
        if self.failing_removals.load(Ordering::SeqCst) > 0 {
            self.failing_removals.fetch_sub(1, Ordering::SeqCst);
            return Err(NetError::errno("remove", 16));
        }
        *self.present.lock().unwrap() = false;
        Ok(())
    }
    fn present(&self, _: u32, _: IpAddr) -> Result<bool, NetError> {
        Ok(*self.present.lock().unwrap())
    }
    fn marked(&self) -> Result<Vec<(u32, IpAddr)>, NetError> {
        Ok(Vec::new())
    }
}

#[derive(Default)]
pub struct FakeWire {
    /// Probes answered by someone else before silence.
    pub answers_left: AtomicU32,
    pub announced: AtomicU64,
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
}
