//! Lease-bound VIP addresses in the kernel, over a synchronous rtnetlink
//! socket of their own.
//!
//! The address goes on `lo`, never on the VIP's link, and the link is made
//! to keep quiet about it (`kernel::quiet`): the kernel then accepts the
//! VIP's traffic but never answers ARP or neighbour solicitations for it,
//! nor announces it, whatever happens to machined. machined answers for
//! it, only with fresh proof from etcd.
//!
//! The VIP holder adds its address with a short kernel lifetime and renews
//! it only while its etcd lease is certainly alive (see `vip::lifetime`).
//! rtnetlink handles a request inside the `send` system call, so a
//! synchronous socket lets the caller read the clock right before and right
//! after the kernel applied the lifetime: no task hop or queue sits between
//! the decision and its effect, and a stall there is measured, not hidden.
//!
//! Addresses added here carry [`ADDRESS_PROTO_VIP`], so the address
//! controller (which owns [`ADDRESS_PROTO_MACHINED`] addresses) never
//! touches them, and a restarted machined finds them.

use super::NetError;
use rtnetlink::packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REPLACE, NLM_F_REQUEST,
};
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressProtocol, CacheInfo,
};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::sync::Mutex;

pub use machined_resources::types::{ADDRESS_PROTO_MACHINED, ADDRESS_PROTO_VIP};

const EEXIST: i32 = 17;
const ENOENT: i32 = 2;
const EADDRNOTAVAIL: i32 = 99;

/// Why adding failed.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// `create_only` and the address is already there.
    #[error("the address is already present")]
    Exists,
    #[error(transparent)]
    Net(#[from] NetError),
}

/// Kernel operations on VIP addresses; a trait so the holder's logic is
/// tested without the kernel. Every call is synchronous on purpose.
pub trait VipAddrs: Send + Sync + 'static {
    /// Makes `link` (a VIP's link) keep quiet about addresses that are not
    /// on it, so the kernel never answers for the VIP there; idempotent.
    /// True when something had to change.
    fn silence(&self, link: u32) -> Result<bool, NetError>;
    /// Adds `ip` (host prefix, `nodad` for IPv6) on `lo`, marked as a VIP,
    /// valid and preferred for `lifetime_secs`; an existing one gets the new
    /// lifetime, unless `create_only` (then [`AddError::Exists`]).
    fn add(&self, ip: IpAddr, lifetime_secs: u32, create_only: bool) -> Result<(), AddError>;
    /// Removes it; one already gone is not an error.
    fn remove(&self, ip: IpAddr) -> Result<(), NetError>;
    /// Whether the kernel has it on `lo`.
    fn present(&self, ip: IpAddr) -> Result<bool, NetError>;
    /// Every address marked as a VIP, on any link (an older machined put
    /// them on the VIP's link itself).
    fn marked(&self) -> Result<Vec<(u32, IpAddr)>, NetError>;
    /// Removes a marked address from the link it is on.
    fn remove_from(&self, link: u32, ip: IpAddr) -> Result<(), NetError>;
}

/// The real [`VipAddrs`].
pub struct VipNetlink {
    sock: Mutex<(Socket, u32)>,
    /// `lo`'s index, where the VIPs go.
    lo: u32,
}

fn link_index(name: &str) -> Result<u32, NetError> {
    let c = std::ffi::CString::new(name).map_err(|e| NetError::new("link index", e))?;
    // SAFETY: if_nametoindex(3) on a NUL-terminated name.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(NetError::io(
            format!("find link {name}"),
            std::io::Error::last_os_error(),
        )),
        i => Ok(i),
    }
}

fn link_name(index: u32) -> Result<String, NetError> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: if_indextoname(3) into a buffer of IF_NAMESIZE bytes.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if p.is_null() {
        return Err(NetError::io(
            format!("find link {index}"),
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: on success the buffer holds a NUL-terminated name.
    let name = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    Ok(name.to_string_lossy().into_owned())
}

fn family(ip: IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

fn host_message(link: u32, ip: IpAddr) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.family = family(ip);
    m.header.prefix_len = if ip.is_ipv4() { 32 } else { 128 };
    m.header.index = link;
    m.attributes.push(AddressAttribute::Local(ip));
    if ip.is_ipv6() {
        m.attributes.clear();
        m.attributes.push(AddressAttribute::Address(ip));
    }
    m
}

fn address_of(m: &AddressMessage) -> Option<IpAddr> {
    let mut local = None;
    let mut address = None;
    for a in &m.attributes {
        match a {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            _ => {}
        }
    }
    local.or(address)
}

fn protocol_of(m: &AddressMessage) -> u8 {
    m.attributes
        .iter()
        .find_map(|a| match a {
            AddressAttribute::Protocol(p) => Some(u8::from(*p)),
            _ => None,
        })
        .unwrap_or(0)
}

impl VipNetlink {
    pub fn open() -> Result<Self, NetError> {
        let mut s =
            Socket::new(NETLINK_ROUTE).map_err(|e| NetError::io("open netlink socket", e))?;
        s.bind_auto()
            .map_err(|e| NetError::io("bind netlink socket", e))?;
        s.connect(&SocketAddr::new(0, 0))
            .map_err(|e| NetError::io("connect netlink socket", e))?;
        // The kernel answers within the send call; never wait long for it.
        let tv = libc::timeval {
            tv_sec: 2,
            tv_usec: 0,
        };
        // SAFETY: setsockopt(2) on a socket we own with a fully initialised timeval.
        let r = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        if r != 0 {
            return Err(NetError::io(
                "set netlink receive timeout",
                std::io::Error::last_os_error(),
            ));
        }
        let lo = link_index("lo")?;
        Ok(VipNetlink {
            sock: Mutex::new((s, 0)),
            lo,
        })
    }

    /// Sends one request and collects its answers until the ack or the end
    /// of the dump. Err carries the kernel's errno for refused requests.
    fn request(
        &self,
        what: &str,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, NetError> {
        let mut guard = self.sock.lock().unwrap_or_else(|e| e.into_inner());
        let (sock, seq) = &mut *guard;
        *seq = seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = *seq;
        let mut nl = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        nl.finalize();
        let mut buf = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut buf);
        sock.send(&buf, 0).map_err(|e| NetError::io(what, e))?;
        let mut out = Vec::new();
        let mut rx = Vec::with_capacity(64 * 1024);
        loop {
            rx.clear();
            let n = sock.recv(&mut rx, 0).map_err(|e| NetError::io(what, e))?;
            let mut off = 0;
            while off < n {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rx[off..n])
                    .map_err(|e| NetError::new(what, format!("bad netlink reply: {e}")))?;
                let len = reply.header.length as usize;
                if reply.header.sequence_number != *seq {
                    off += len.max(1);
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(out),
                            Some(code) => Err(NetError::errno(what, -code.get())),
                        }
                    }
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::InnerMessage(m) => out.push(m),
                    _ => {}
                }
                if len == 0 {
                    break;
                }
                off += len;
            }
        }
    }
}

impl VipNetlink {
    /// Every address the kernel has (of one family, if given).
    fn dump(&self, family: Option<AddressFamily>) -> Result<Vec<AddressMessage>, NetError> {
        let mut m = AddressMessage::default();
        if let Some(f) = family {
            m.header.family = f;
        }
        let all = self.request(
            "dump addresses",
            RouteNetlinkMessage::GetAddress(m),
            NLM_F_DUMP,
        )?;
        Ok(all
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewAddress(a) => Some(a),
                _ => None,
            })
            .collect())
    }
}

impl VipAddrs for VipNetlink {
    fn silence(&self, link: u32) -> Result<bool, NetError> {
        super::quiet::silence(&link_name(link)?)
    }

    fn add(&self, ip: IpAddr, lifetime_secs: u32, create_only: bool) -> Result<(), AddError> {
        let mut m = host_message(self.lo, ip);
        m.attributes
            .push(AddressAttribute::Protocol(AddressProtocol::from(
                ADDRESS_PROTO_VIP,
            )));
        if ip.is_ipv6() {
            m.header.flags |= AddressHeaderFlags::Nodad;
            m.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        let mut ci = CacheInfo::default();
        ci.ifa_valid = lifetime_secs;
        ci.ifa_preferred = lifetime_secs;
        m.attributes.push(AddressAttribute::CacheInfo(ci));
        let flags = NLM_F_ACK
            | NLM_F_CREATE
            | if create_only {
                NLM_F_EXCL
            } else {
                NLM_F_REPLACE
            };
        let what = format!("add VIP {ip} to lo");
        match self.request(&what, RouteNetlinkMessage::NewAddress(m), flags) {
            Ok(_) => Ok(()),
            Err(e) if e.errno == Some(EEXIST) && create_only => Err(AddError::Exists),
            Err(e) => Err(AddError::Net(e)),
        }
    }

    fn remove(&self, ip: IpAddr) -> Result<(), NetError> {
        self.remove_from(self.lo, ip)
    }

    fn present(&self, ip: IpAddr) -> Result<bool, NetError> {
        Ok(self
            .dump(Some(family(ip)))?
            .iter()
            .any(|a| a.header.index == self.lo && address_of(a) == Some(ip)))
    }

    fn marked(&self) -> Result<Vec<(u32, IpAddr)>, NetError> {
        Ok(self
            .dump(None)?
            .iter()
            .filter(|a| protocol_of(a) == ADDRESS_PROTO_VIP)
            .filter_map(|a| Some((a.header.index, address_of(a)?)))
            .collect())
    }

    fn remove_from(&self, link: u32, ip: IpAddr) -> Result<(), NetError> {
        let what = format!("remove VIP {ip} from link {link}");
        let m = host_message(link, ip);
        match self.request(&what, RouteNetlinkMessage::DelAddress(m), NLM_F_ACK) {
            Err(e) if matches!(e.errno, Some(ENOENT) | Some(EADDRNOTAVAIL)) => Ok(()),
            r => r.map(|_| ()),
        }
    }
}
