//! [`NetDriver`] over rtnetlink, plus a multicast listener that wakes
//! subscribers on link and address changes.

use super::{KernelAddr, KernelLink, KernelRoute, NetDriver, NetError};
use crate::waker::Waker;
use async_trait::async_trait;
use futures::TryStreamExt;
use ipnet::IpNet;
use machined_resources::mac::HardwareAddr;
use machined_resources::types::{AddressScope as Scope, OperState};
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressMessage, AddressProtocol, AddressScope,
};
use rtnetlink::packet_route::link::{
    LinkAttribute, LinkFlags, LinkInfo, LinkLayerType, LinkMessage, Prop, State,
};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use rtnetlink::{Handle, LinkUnspec, MulticastGroup, RouteMessageBuilder};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

const EEXIST: i32 = 17;
const ENOENT: i32 = 2;
const ESRCH: i32 = 3;
const EADDRNOTAVAIL: i32 = 99;

pub struct Rtnl {
    handle: Handle,
    /// The kernel allows one dump at a time per netlink socket (EBUSY
    /// otherwise); controllers dump concurrently, so take turns.
    dump: tokio::sync::Mutex<()>,
    subscribers: Arc<Mutex<Vec<Waker>>>,
}

impl Rtnl {
    /// Opens a request connection and a multicast listener (links, IPv4 and
    /// IPv6 addresses). Must be called inside a tokio runtime.
    pub fn new() -> Result<Self, NetError> {
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| NetError::new("netlink connect", e))?;
        tokio::spawn(conn);
        let groups = [
            MulticastGroup::Link,
            MulticastGroup::Ipv4Ifaddr,
            MulticastGroup::Ipv6Ifaddr,
            MulticastGroup::Ipv4Route,
            MulticastGroup::Ipv6Route,
        ];
        let (mconn, _, mut events) = rtnetlink::new_multicast_connection(&groups)
            .map_err(|e| NetError::new("netlink subscribe", e))?;
        tokio::spawn(mconn);
        let subscribers: Arc<Mutex<Vec<Waker>>> = Arc::default();
        let subs = subscribers.clone();
        let span = tracing::info_span!("netlink-events");
        tokio::spawn(tracing::Instrument::instrument(
            async move {
                use futures::StreamExt;
                while events.next().await.is_some() {
                    for w in subs.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                        w.wake();
                    }
                }
                tracing::error!("netlink event stream ended");
            },
            span,
        ));
        Ok(Rtnl {
            handle,
            dump: Default::default(),
            subscribers,
        })
    }
}

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(-m.raw_code()),
        _ => None,
    }
}

fn link_from(m: LinkMessage) -> KernelLink {
    let mut l = KernelLink {
        index: m.header.index,
        up: m.header.flags.contains(LinkFlags::Up),
        link_type: match m.header.link_layer_type {
            LinkLayerType::Ether => "ether".into(),
            LinkLayerType::Loopback => "loopback".into(),
            other => format!("{other:?}").to_ascii_lowercase(),
        },
        ..Default::default()
    };
    for a in m.attributes {
        match a {
            LinkAttribute::IfName(n) => l.name = n,
            LinkAttribute::Address(b) => l.mac = HardwareAddr(b),
            LinkAttribute::Mtu(v) => l.mtu = v,
            LinkAttribute::OperState(s) => l.oper_state = oper_state(s),
            LinkAttribute::Controller(i) => l.master = i,
            LinkAttribute::PermAddress(b) if b.iter().any(|x| *x != 0) => {
                l.perm_mac = HardwareAddr(b)
            }
            LinkAttribute::IfAlias(a) => l.alias = a.trim_end_matches('\0').to_string(),
            LinkAttribute::PropList(props) => {
                for p in props {
                    if let Prop::AltIfName(n) = p {
                        l.alt_names.push(n);
                    }
                }
            }
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let LinkInfo::Kind(k) = i {
                        l.kind = k.to_string();
                    }
                }
            }
            _ => {}
        }
    }
    l
}

fn oper_state(s: State) -> OperState {
    match s {
        State::Up => OperState::Up,
        State::Down => OperState::Down,
        State::LowerLayerDown => OperState::LowerLayerDown,
        State::NotPresent => OperState::NotPresent,
        State::Testing => OperState::Testing,
        State::Dormant => OperState::Dormant,
        _ => OperState::Unknown,
    }
}

fn addr_from(m: AddressMessage) -> Option<KernelAddr> {
    let mut local = None;
    let mut address = None;
    let mut protocol = 0;
    for a in m.attributes {
        match a {
            AddressAttribute::Local(ip) => local = Some(ip),
            AddressAttribute::Address(ip) => address = Some(ip),
            AddressAttribute::Protocol(p) => protocol = u8::from(p),
            _ => {}
        }
    }
    let ip: IpAddr = local.or(address)?;
    Some(KernelAddr {
        link_index: m.header.index,
        addr: IpNet::new(ip, m.header.prefix_len).ok()?,
        scope: match m.header.scope {
            AddressScope::Universe => Scope::Global,
            AddressScope::Site => Scope::Site,
            AddressScope::Link => Scope::Link,
            AddressScope::Host => Scope::Host,
            AddressScope::Nowhere => Scope::Nowhere,
            _ => Scope::Other,
        },
        protocol,
    })
}

fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

/// A unicast route of the main table with one output link; others (local,
/// broadcast, multipath, other tables) are not ours to manage.
fn route_from(m: RouteMessage) -> Option<KernelRoute> {
    if m.header.table != RouteHeader::RT_TABLE_MAIN || m.header.kind != RouteType::Unicast {
        return None;
    }
    let v4 = m.header.address_family == rtnetlink::packet_route::AddressFamily::Inet;
    let (mut dst, mut gateway, mut source, mut oif, mut metric) = (None, None, None, None, 0);
    for a in &m.attributes {
        match a {
            RouteAttribute::Destination(d) => dst = route_ip(d),
            RouteAttribute::Gateway(g) => gateway = route_ip(g),
            RouteAttribute::PrefSource(p) => source = route_ip(p),
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::Priority(p) => metric = *p,
            _ => {}
        }
    }
    let dst = dst.unwrap_or(if v4 {
        IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
    } else {
        IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
    });
    Some(KernelRoute {
        link_index: oif?,
        destination: IpNet::new(dst, m.header.destination_prefix_length).ok()?,
        gateway,
        source,
        metric,
        protocol: u8::from(m.header.protocol),
    })
}

fn route_message(r: &KernelRoute) -> Result<RouteMessage, NetError> {
    let bad = |e| NetError::new(format!("route to {}", r.destination), e);
    let mut b = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(r.destination.addr(), r.destination.prefix_len())
        .map_err(bad)?
        .output_interface(r.link_index)
        .priority(r.metric)
        .protocol(RouteProtocol::from(r.protocol))
        .scope(if r.gateway.is_some() {
            RouteScope::Universe
        } else {
            RouteScope::Link
        });
    if let Some(g) = r.gateway {
        b = b.gateway(g).map_err(bad)?;
    }
    if let Some(s) = r.source {
        b = b.pref_source(s).map_err(bad)?;
    }
    Ok(b.build())
}

#[async_trait]
impl NetDriver for Rtnl {
    async fn dump_links(&self) -> Result<Vec<KernelLink>, NetError> {
        let _turn = self.dump.lock().await;
        let msgs: Vec<LinkMessage> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| NetError::new("dump links", e))?;
        Ok(msgs.into_iter().map(link_from).collect())
    }

    async fn dump_addrs(&self) -> Result<Vec<KernelAddr>, NetError> {
        let _turn = self.dump.lock().await;
        let msgs: Vec<AddressMessage> = self
            .handle
            .address()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| NetError::new("dump addresses", e))?;
        Ok(msgs.into_iter().filter_map(addr_from).collect())
    }

    async fn add_addr(
        &self,
        link_index: u32,
        addr: IpNet,
        protocol: u8,
        lifetime_secs: Option<u32>,
    ) -> Result<(), NetError> {
        let mut req = self
            .handle
            .address()
            .add(link_index, addr.addr(), addr.prefix_len());
        if lifetime_secs.is_some() {
            req = req.replace();
        }
        let msg = req.message_mut();
        msg.attributes
            .push(AddressAttribute::Protocol(AddressProtocol::from(protocol)));
        if let Some(secs) = lifetime_secs {
            let mut ci = rtnetlink::packet_route::address::CacheInfo::default();
            ci.ifa_valid = secs;
            ci.ifa_preferred = secs;
            msg.attributes.push(AddressAttribute::CacheInfo(ci));
        }
        match req.execute().await {
            Err(e) if errno(&e) == Some(EEXIST) => Ok(()),
            r => {
                r.map_err(|e| NetError::new(format!("add address {addr} to link {link_index}"), e))
            }
        }
    }

    async fn del_addr(&self, link_index: u32, addr: IpNet) -> Result<(), NetError> {
        let mut msg = AddressMessage::default();
        msg.header.family = match addr {
            IpNet::V4(_) => rtnetlink::packet_route::AddressFamily::Inet,
            IpNet::V6(_) => rtnetlink::packet_route::AddressFamily::Inet6,
        };
        msg.header.prefix_len = addr.prefix_len();
        msg.header.index = link_index;
        msg.attributes.push(AddressAttribute::Local(addr.addr()));
        if addr.addr().is_ipv6() {
            msg.attributes.clear();
            msg.attributes.push(AddressAttribute::Address(addr.addr()));
        }
        match self.handle.address().del(msg).execute().await {
            Err(e) if matches!(errno(&e), Some(ENOENT) | Some(EADDRNOTAVAIL)) => Ok(()),
            r => r.map_err(|e| {
                NetError::new(format!("remove address {addr} from link {link_index}"), e)
            }),
        }
    }

    async fn set_link(&self, link_index: u32, up: bool, mtu: Option<u32>) -> Result<(), NetError> {
        let mut b = LinkUnspec::new_with_index(link_index);
        b = if up { b.up() } else { b.down() };
        if let Some(m) = mtu {
            b = b.mtu(m);
        }
        self.handle
            .link()
            .set(b.build())
            .execute()
            .await
            .map_err(|e| NetError::new(format!("set link {link_index} up={up} mtu={mtu:?}"), e))
    }

    async fn create_vlan(&self, name: &str, parent_index: u32, id: u16) -> Result<(), NetError> {
        let m = rtnetlink::LinkVlan::new(name, parent_index, id)
            .up()
            .build();
        match self.handle.link().add(m).execute().await {
            Err(e) if errno(&e) != Some(EEXIST) => Err(NetError::new(
                format!("create VLAN {name} (id {id} on link {parent_index})"),
                e,
            )),
            _ => Ok(()),
        }
    }

    async fn create_bond(
        &self,
        name: &str,
        b: &machined_resources::config::BondSettings,
        primary_index: Option<u32>,
    ) -> Result<(), NetError> {
        use machined_resources::config::bond::{
            code, FAIL_OVER_MACS, HASH_POLICIES, LACP_RATES, MODES,
        };
        use rtnetlink::packet_route::link::{
            BondFailOverMac, BondLacpRate, BondMode, BondXmitHashPolicy,
        };
        let mut l = rtnetlink::LinkBond::new(name);
        if let Some(m) = code(MODES, &b.mode) {
            l = l.mode(BondMode::from(m));
        }
        if let Some(v) = b.miimon {
            l = l.miimon(v);
        }
        if let Some(v) = b.updelay {
            l = l.updelay(v);
        }
        if let Some(v) = b.downdelay {
            l = l.downdelay(v);
        }
        if let Some(v) = b.use_carrier {
            l = l.use_carrier(v);
        }
        if let Some(v) = b
            .xmit_hash_policy
            .as_deref()
            .and_then(|v| code(HASH_POLICIES, v))
        {
            l = l.xmit_hash_policy(BondXmitHashPolicy::from(v));
        }
        if let Some(v) = b.lacp_rate.as_deref().and_then(|v| code(LACP_RATES, v)) {
            l = l.ad_lacp_rate(BondLacpRate::from(v));
        }
        if let Some(v) = b
            .fail_over_mac
            .as_deref()
            .and_then(|v| code(FAIL_OVER_MACS, v))
        {
            l = l.fail_over_mac(BondFailOverMac::from(v));
        }
        if let Some(i) = primary_index {
            l = l.primary(i);
        }
        if let Some(v) = b.ad_actor_sys_prio {
            l = l.ad_actor_sys_prio(v);
        }
        if let Some(v) = b.resend_igmp {
            l = l.resend_igmp(v);
        }
        if let Some(v) = b.packets_per_slave {
            l = l.packets_per_port(v);
        }
        if let Some(v) = b.min_links {
            l = l.min_links(v);
        }
        match self.handle.link().add(l.build()).execute().await {
            Err(e) if errno(&e) != Some(EEXIST) => {
                Err(NetError::new(format!("create bond {name} ({})", b.mode), e))
            }
            _ => Ok(()),
        }
    }

    async fn set_master(&self, link_index: u32, master_index: u32) -> Result<(), NetError> {
        let down = LinkUnspec::new_with_index(link_index).down().build();
        self.handle
            .link()
            .set(down)
            .execute()
            .await
            .map_err(|e| NetError::new(format!("set link {link_index} down"), e))?;
        let m = LinkUnspec::new_with_index(link_index)
            .controller(master_index)
            .build();
        self.handle
            .link()
            .set(m)
            .execute()
            .await
            .map_err(|e| NetError::new(format!("enslave link {link_index} to {master_index}"), e))
    }

    async fn set_link_alias(&self, link_index: u32, alias: &str) -> Result<(), NetError> {
        let b = LinkUnspec::new_with_index(link_index)
            .append_extra_attribute(LinkAttribute::IfAlias(alias.to_string()));
        self.handle
            .link()
            .set(b.build())
            .execute()
            .await
            .map_err(|e| NetError::new(format!("set link {link_index} alias {alias:?}"), e))
    }

    async fn promote_secondaries(&self, link: &str) -> Result<(), NetError> {
        let path = format!("/proc/sys/net/ipv4/conf/{link}/promote_secondaries");
        match tokio::fs::read_to_string(&path).await {
            Ok(v) if v.trim() == "1" => Ok(()),
            _ => tokio::fs::write(&path, "1")
                .await
                .map_err(|e| NetError::new(format!("write {path}"), e)),
        }
    }

    async fn dump_routes(&self) -> Result<Vec<KernelRoute>, NetError> {
        let _turn = self.dump.lock().await;
        let mut out = Vec::new();
        for m in [
            RouteMessageBuilder::<std::net::Ipv4Addr>::new().build(),
            RouteMessageBuilder::<std::net::Ipv6Addr>::new().build(),
        ] {
            let msgs: Vec<RouteMessage> = self
                .handle
                .route()
                .get(m)
                .execute()
                .try_collect()
                .await
                .map_err(|e| NetError::new("dump routes", e))?;
            out.extend(msgs.into_iter().filter_map(route_from));
        }
        Ok(out)
    }

    async fn add_route(&self, r: &KernelRoute) -> Result<(), NetError> {
        match self.handle.route().add(route_message(r)?).execute().await {
            Err(e) if errno(&e) == Some(EEXIST) => Ok(()),
            res => res.map_err(|e| {
                NetError::new(
                    format!("add route to {} via {:?}", r.destination, r.gateway),
                    e,
                )
            }),
        }
    }

    async fn del_route(&self, r: &KernelRoute) -> Result<(), NetError> {
        match self.handle.route().del(route_message(r)?).execute().await {
            Err(e) if matches!(errno(&e), Some(ENOENT) | Some(ESRCH)) => Ok(()),
            res => res.map_err(|e| NetError::new(format!("remove route to {}", r.destination), e)),
        }
    }

    fn subscribe(&self, waker: Waker) {
        self.subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(waker);
    }
}
