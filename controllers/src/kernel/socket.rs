//! A raw `AF_PACKET` socket on one link and one ethertype, with classic
//! BPF filters so a socket wakes only for the frames it is for.
//!
//! The kernel waits for an RCU grace period (`synchronize_net`, 10-20 ms
//! here) whenever a packet socket's protocol hook is taken down: when a
//! socket created with a protocol is bound, and whenever one is closed. On
//! the runtime's thread that stalls every task, a takeover's included. So
//! a socket is created without a protocol and gets it at `bind` (no hook
//! to take down yet), and is closed on a thread of its own.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use tokio::io::unix::AsyncFd;

const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;

fn bpf(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// A raw `AF_PACKET` socket bound to one link and one ethertype.
pub struct PacketSocket {
    /// Taken only when dropped.
    fd: std::mem::ManuallyDrop<AsyncFd<OwnedFd>>,
    ifindex: i32,
}

impl Drop for PacketSocket {
    fn drop(&mut self) {
        // SAFETY: taken once, here, and never used again.
        let fd = unsafe { std::mem::ManuallyDrop::take(&mut self.fd) };
        // Out of the runtime's poller first, then closed elsewhere.
        closer(fd.into_inner());
    }
}

/// Closes `fd` on a background thread (see the module docs).
fn closer(fd: OwnedFd) {
    use std::sync::mpsc::{channel, Sender};
    use std::sync::{Mutex, OnceLock};
    static CLOSER: OnceLock<Mutex<Sender<OwnedFd>>> = OnceLock::new();
    let tx = CLOSER.get_or_init(|| {
        let (tx, rx) = channel::<OwnedFd>();
        let started = std::thread::Builder::new()
            .name("packet-close".into())
            .spawn(move || rx.into_iter().for_each(drop));
        if let Err(e) = started {
            tracing::warn!(error = %machined_resources::error::chain(&e), "no thread to close packet sockets on; closing in place");
        }
        Mutex::new(tx)
    });
    let sent = tx.lock().unwrap_or_else(|e| e.into_inner()).send(fd);
    // The thread is gone (it could not start): close here.
    drop(sent);
}

impl PacketSocket {
    fn open(ifindex: u32, proto: u16) -> io::Result<Self> {
        let proto_be = proto.to_be();
        // SAFETY: plain socket(2)/bind(2) calls; the fd is owned right away
        // and the sockaddr is fully initialised.
        unsafe {
            // Protocol 0: no hook yet, so binding takes none down (module
            // docs); bind gives the protocol.
            let fd = libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            );
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = OwnedFd::from_raw_fd(fd);
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto_be;
            sll.sll_ifindex = ifindex as i32;
            let r = libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            );
            if r < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(PacketSocket {
                fd: std::mem::ManuallyDrop::new(AsyncFd::register(fd).map_err(io::Error::from)?),
                ifindex: ifindex as i32,
            })
        }
    }

    pub fn arp(ifindex: u32) -> io::Result<Self> {
        Self::open(ifindex, ETH_P_ARP)
    }

    /// An ARP socket that only ever receives ARP replies: a classic BPF
    /// filter in the kernel drops everything else (other hosts' requests and
    /// probes), so a prober wakes only for answers.
    pub fn arp_replies(ifindex: u32) -> io::Result<Self> {
        let s = Self::open(ifindex, ETH_P_ARP)?;
        // ldh [20] (ARP operation); jeq #2 (reply) ? accept : drop
        s.attach_filter(&[
            bpf(0x28, 0, 0, 20),
            bpf(0x15, 0, 1, 2),
            bpf(0x06, 0, 0, 0xffff),
            bpf(0x06, 0, 0, 0),
        ])?;
        Ok(s)
    }

    /// A socket that only receives what is said about `ip`: for IPv4, ARP
    /// frames whose sender or target address is `ip` (requests and probes
    /// for it, replies and gratuitous ARP from whoever has it); for IPv6,
    /// neighbour solicitations and advertisements whose target is `ip`. A
    /// VIP's holder answers from it, and hears rival claims on it.
    pub fn for_address(ifindex: u32, ip: std::net::IpAddr) -> io::Result<Self> {
        match ip {
            std::net::IpAddr::V4(v4) => {
                let s = Self::open(ifindex, ETH_P_ARP)?;
                let k = u32::from(v4);
                s.attach_filter(&[
                    bpf(0x20, 0, 0, 28), // ld [28]: sender protocol address
                    bpf(0x15, 2, 0, k),
                    bpf(0x20, 0, 0, 38), // ld [38]: target protocol address
                    bpf(0x15, 0, 1, k),
                    bpf(0x06, 0, 0, 0xffff),
                    bpf(0x06, 0, 0, 0),
                ])?;
                Ok(s)
            }
            std::net::IpAddr::V6(v6) => {
                let s = Self::open(ifindex, ETH_P_IPV6)?;
                let o = v6.octets();
                let w = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
                s.attach_filter(&[
                    bpf(0x30, 0, 0, 20),  // ldb [20]: next header
                    bpf(0x15, 0, 12, 58), // ICMPv6 (no extension headers: NDP has none)
                    bpf(0x30, 0, 0, 54),  // ldb [54]: ICMPv6 type
                    bpf(0x15, 1, 0, 135), // neighbour solicitation
                    bpf(0x15, 0, 9, 136), // neighbour advertisement
                    bpf(0x20, 0, 0, 62),  // the target address, a word at a time
                    bpf(0x15, 0, 7, w(0)),
                    bpf(0x20, 0, 0, 66),
                    bpf(0x15, 0, 5, w(4)),
                    bpf(0x20, 0, 0, 70),
                    bpf(0x15, 0, 3, w(8)),
                    bpf(0x20, 0, 0, 74),
                    bpf(0x15, 0, 1, w(12)),
                    bpf(0x06, 0, 0, 0xffff),
                    bpf(0x06, 0, 0, 0),
                ])?;
                Ok(s)
            }
        }
    }

    /// An IPv4 socket that only receives unfragmented UDP datagrams to
    /// `port` (a DHCP client's, before it has an address to bind to).
    pub fn udp_to_port(ifindex: u32, port: u16) -> io::Result<Self> {
        let s = Self::open(ifindex, ETH_P_IP)?;
        s.attach_filter(&[
            bpf(0x28, 0, 0, 12),                  // ldh [12]: ethertype
            bpf(0x15, 0, 8, u32::from(ETH_P_IP)), // IPv4?
            bpf(0x30, 0, 0, 23),                  // ldb [23]: protocol
            bpf(0x15, 0, 6, 17),                  // UDP?
            bpf(0x28, 0, 0, 20),                  // ldh [20]: fragment
            bpf(0x45, 4, 0, 0x1fff),              // offset set: drop
            bpf(0xb1, 0, 0, 14),                  // x = IPv4 header length
            bpf(0x48, 0, 0, 16),                  // ldh [x+16]: dst port
            bpf(0x15, 0, 1, u32::from(port)),
            bpf(0x06, 0, 0, 0xffff),
            bpf(0x06, 0, 0, 0),
        ])?;
        Ok(s)
    }

    /// Attaches a classic BPF program and drops what was queued before it
    /// (frames that came in before the filter may be anything).
    fn attach_filter(&self, code: &[libc::sock_filter]) -> io::Result<()> {
        let prog = libc::sock_fprog {
            len: code.len() as u16,
            filter: code.as_ptr().cast_mut(),
        };
        // SAFETY: setsockopt(2) with a filter program that outlives the call.
        let r = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&prog as *const libc::sock_fprog).cast(),
                std::mem::size_of::<libc::sock_fprog>() as u32,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = [0u8; 64];
        while self.try_recv(&mut buf).is_some() {}
        Ok(())
    }

    pub fn ipv6(ifindex: u32) -> io::Result<Self> {
        Self::open(ifindex, ETH_P_IPV6)
    }

    /// Sends a whole Ethernet frame.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: sendto(2) with a valid buffer and a fully initialised
        // sockaddr_ll naming the link and the frame's destination.
        unsafe {
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_ifindex = self.ifindex;
            sll.sll_halen = 6;
            sll.sll_addr[..6].copy_from_slice(&frame[..6]);
            let n = libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            );
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// Receives one frame if one is queued, without waiting.
    pub fn try_recv(&self, buf: &mut [u8]) -> Option<usize> {
        // SAFETY: non-blocking recv(2) into a buffer we own.
        let n = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        (n >= 0).then_some(n as usize)
    }

    /// Receives one frame.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            // SAFETY: recv(2) into a buffer we own, bounded by its length.
            let r = guard.try_io(|fd| unsafe {
                let n = libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0);
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            if let Ok(r) = r {
                return r;
            }
        }
    }
}

/// Joins the solicited-node multicast group of `ip` on link `ifindex` for
/// as long as the returned socket is open. The VIP is not on the link, so
/// the kernel does not join it by itself: without this a card's multicast
/// filter (and a switch's MLD snooping) would keep the neighbour
/// solicitations for the VIP from reaching the holder.
pub fn join_solicited_node(ifindex: u32, ip: std::net::Ipv6Addr) -> io::Result<OwnedFd> {
    let t = ip.octets();
    let group = std::net::Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(t[13]),
        u16::from_be_bytes([t[14], t[15]]),
    );
    // SAFETY: socket(2) and setsockopt(2) with a fully initialised
    // ipv6_mreq; the fd is owned at once.
    unsafe {
        let fd = libc::socket(
            libc::AF_INET6,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::IPPROTO_UDP,
        );
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let mreq = libc::ipv6_mreq {
            ipv6mr_multiaddr: libc::in6_addr {
                s6_addr: group.octets(),
            },
            ipv6mr_interface: ifindex,
        };
        let r = libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_ADD_MEMBERSHIP,
            (&mreq as *const libc::ipv6_mreq).cast(),
            std::mem::size_of::<libc::ipv6_mreq>() as u32,
        );
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(fd)
    }
}
