//! An in-memory kernel for unit tests.

use super::{KernelAddr, KernelLink, KernelRoute, NetDriver, NetError};
use crate::waker::Waker;
use async_trait::async_trait;
use ipnet::IpNet;
use machined_resources::mac::HardwareAddr;
use machined_resources::types::OperState;
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
            mac: mac.parse().unwrap(),
            up: false,
            oper_state: OperState::Down,
            mtu: 1500,
            ..Default::default()
        });
        self
    }

    /// Changes the link `index` and wakes the subscribers.
    fn change_link(&self, index: u32, f: impl FnOnce(&mut KernelLink)) {
        if let Some(l) = self
            .links
            .lock()
            .unwrap()
            .iter_mut()
            .find(|l| l.index == index)
        {
            f(l);
        }
        self.wake();
    }

    /// A new link of `kind` (a VLAN takes its parent's MAC).
    fn add_virtual(&self, name: &str, kind: &str, parent_index: u32) {
        let mut links = self.links.lock().unwrap();
        if links.iter().any(|l| l.name == name) {
            return;
        }
        let index = links.iter().map(|l| l.index).max().unwrap_or(0) + 1;
        let mac = links
            .iter()
            .find(|l| l.index == parent_index)
            .map_or(HardwareAddr::from([2, 0, 0, 0, 0, 0xff]), |p| p.mac.clone());
        links.push(KernelLink {
            index,
            name: name.into(),
            link_type: "ether".into(),
            kind: kind.into(),
            mac,
            oper_state: OperState::Down,
            mtu: 1500,
            ..Default::default()
        });
        drop(links);
        self.wake();
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
                scope: machined_resources::types::AddressScope::Global,
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
        self.change_link(link_index, |l| {
            l.up = up;
            l.oper_state = if up { OperState::Up } else { OperState::Down };
            if let Some(m) = mtu {
                l.mtu = m;
            }
        });
        Ok(())
    }

    async fn create_vlan(&self, name: &str, parent_index: u32, _id: u16) -> Result<(), NetError> {
        self.add_virtual(name, "vlan", parent_index);
        Ok(())
    }

    async fn create_bond(
        &self,
        name: &str,
        _settings: &machined_resources::config::BondSettings,
        _primary_index: Option<u32>,
    ) -> Result<(), NetError> {
        self.add_virtual(name, "bond", 0);
        Ok(())
    }

    async fn set_master(&self, link_index: u32, master_index: u32) -> Result<(), NetError> {
        self.change_link(link_index, |l| {
            l.master = master_index;
            l.up = false;
        });
        Ok(())
    }

    async fn set_link_alias(&self, link_index: u32, alias: &str) -> Result<(), NetError> {
        self.change_link(link_index, |l| l.alias = alias.to_string());
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
