//! An in-memory kernel for unit tests.

use super::{KernelAddr, KernelLink, KernelRoute, NetDriver, NetError};
use crate::runtime::Waker;
use async_trait::async_trait;
use ipnet::IpNet;
use std::sync::Mutex;

#[derive(Default)]
pub struct FakeKernel {
    pub links: Mutex<Vec<KernelLink>>,
    pub addrs: Mutex<Vec<KernelAddr>>,
    pub routes: Mutex<Vec<KernelRoute>>,
    wakers: Mutex<Vec<Waker>>,
    pub promoted: Mutex<Vec<String>>,
}

impl FakeKernel {
    pub fn with_link(self, index: u32, name: &str, mac: &str, kind: &str) -> Self {
        self.links.lock().unwrap().push(KernelLink {
            index,
            name: name.into(),
            link_type: "ether".into(),
            kind: kind.into(),
            mac: mac.into(),
            up: false,
            oper_state: "down".into(),
            mtu: 1500,
            ..Default::default()
        });
        self
    }

    /// Simulates a change made behind machined's back (e.g. `ip addr del`).
    pub fn external_change(&self, f: impl FnOnce(&mut Vec<KernelAddr>)) {
        f(&mut self.addrs.lock().unwrap());
        self.wake();
    }

    fn wake(&self) {
        for w in self.wakers.lock().unwrap().iter() {
            w.wake();
        }
    }

    pub fn has(&self, link_index: u32, addr: &str) -> bool {
        let addr: IpNet = addr.parse().unwrap();
        self.addrs
            .lock()
            .unwrap()
            .iter()
            .any(|a| a.link_index == link_index && a.addr == addr)
    }
}

#[async_trait]
impl NetDriver for FakeKernel {
    async fn dump_links(&self) -> Result<Vec<KernelLink>, NetError> {
        Ok(self.links.lock().unwrap().clone())
    }

    async fn dump_addrs(&self) -> Result<Vec<KernelAddr>, NetError> {
        Ok(self.addrs.lock().unwrap().clone())
    }

    async fn add_addr(
        &self,
        link_index: u32,
        addr: IpNet,
        protocol: u8,
        _lifetime_secs: Option<u32>,
    ) -> Result<(), NetError> {
        let mut a = self.addrs.lock().unwrap();
        if !a
            .iter()
            .any(|x| x.link_index == link_index && x.addr == addr)
        {
            a.push(KernelAddr {
                link_index,
                addr,
                scope: "global".into(),
                protocol,
            });
        }
        drop(a);
        self.wake();
        Ok(())
    }

    async fn del_addr(&self, link_index: u32, addr: IpNet) -> Result<(), NetError> {
        self.addrs
            .lock()
            .unwrap()
            .retain(|x| !(x.link_index == link_index && x.addr == addr));
        self.wake();
        Ok(())
    }

    async fn set_link(&self, link_index: u32, up: bool, mtu: Option<u32>) -> Result<(), NetError> {
        for l in self
            .links
            .lock()
            .unwrap()
            .iter_mut()
            .filter(|l| l.index == link_index)
        {
            l.up = up;
            l.oper_state = if up { "up" } else { "down" }.into();
            if let Some(m) = mtu {
                l.mtu = m;
            }
        }
        self.wake();
        Ok(())
    }

    async fn set_link_alias(&self, link_index: u32, alias: &str) -> Result<(), NetError> {
        for l in self
            .links
            .lock()
            .unwrap()
            .iter_mut()
            .filter(|l| l.index == link_index)
        {
            l.alias = alias.to_string();
        }
        self.wake();
        Ok(())
    }

    async fn promote_secondaries(&self, link: &str) -> Result<(), NetError> {
        self.promoted.lock().unwrap().push(link.to_string());
        Ok(())
    }

    async fn dump_routes(&self) -> Result<Vec<KernelRoute>, NetError> {
        Ok(self.routes.lock().unwrap().clone())
    }

    async fn add_route(&self, r: &KernelRoute) -> Result<(), NetError> {
        let mut routes = self.routes.lock().unwrap();
        if !routes.contains(r) {
            routes.push(r.clone());
        }
        drop(routes);
        self.wake();
        Ok(())
    }

    async fn del_route(&self, r: &KernelRoute) -> Result<(), NetError> {
        self.routes.lock().unwrap().retain(|x| x != r);
        self.wake();
        Ok(())
    }

    fn subscribe(&self, waker: Waker) {
        self.wakers.lock().unwrap().push(waker);
    }
}
