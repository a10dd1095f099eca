//! Who holds the VIP, as the LAN sees it: an ARP request for the VIP every
//! few milliseconds from the LAN namespace's bridge, and the MACs that
//! answer. A machine whose kernel has the address answers, whatever its
//! machined believes, so two MACs answering one round is two holders. For
//! virtual machines, whose netlink the host cannot read, this is the view
//! from outside; a round lasts one period, so times are good to a period.
//! A holder counts as gone after two silent rounds (an emulated machine's
//! reply can miss its round), from the start of the first.

use crate::monitor::Change;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ETH_P_ARP: u16 = 0x0806;

/// Claims heard: when, and whose MAC.
type Heard = Arc<Mutex<Vec<(Instant, [u8; 6])>>>;

pub struct ArpWatch {
    stop: Arc<AtomicBool>,
    changes: Arc<Mutex<Vec<Change>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// Parses a MAC written `aa:bb:cc:dd:ee:ff`.
pub fn mac(s: &str) -> Option<[u8; 6]> {
    let v: Vec<u8> = s
        .split(':')
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    v.try_into().ok()
}

/// An ARP request for `target` from (`mac`, `ip`), broadcast.
pub fn request(src_mac: [u8; 6], src_ip: Ipv4Addr, target: Ipv4Addr) -> [u8; 42] {
    let mut f = [0u8; 42];
    f[..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&src_mac);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    f[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    f[22..28].copy_from_slice(&src_mac);
    f[28..32].copy_from_slice(&src_ip.octets());
    f[38..42].copy_from_slice(&target.octets());
    f
}

/// The sender's MAC if `frame` is an ARP reply (or a gratuitous ARP) for
/// `vip`: someone saying it has the address.
pub fn claims(frame: &[u8], vip: Ipv4Addr) -> Option<[u8; 6]> {
    if frame.len() < 42 || frame[12..14] != ETH_P_ARP.to_be_bytes() {
        return None;
    }
    let op = u16::from_be_bytes([frame[20], frame[21]]);
    let spa = Ipv4Addr::new(frame[28], frame[29], frame[30], frame[31]);
    let tpa = Ipv4Addr::new(frame[38], frame[39], frame[40], frame[41]);
    let said = spa == vip && (op == 2 || (op == 1 && tpa == vip));
    said.then(|| frame[22..28].try_into().ok()).flatten()
}

fn packet_socket(ifindex: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: socket(2)/bind(2)/setsockopt(2) with properly sized structs;
    // the fd is owned at once.
    unsafe {
        let fd = libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(ETH_P_ARP.to_be()),
        );
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ARP.to_be();
        sll.sll_ifindex = ifindex;
        if libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        ) < 0
        {
            return Err(std::io::Error::last_os_error());
        }
        crate::probe::recv_timeout(&fd, 5_000);
        Ok(fd)
    }
}

/// Where to ask from: the LAN namespace, its bridge, the bridge's MAC and
/// address.
pub struct Asker {
    pub netns: String,
    pub link: String,
    pub mac: [u8; 6],
    pub ip: Ipv4Addr,
}

impl ArpWatch {
    /// Asks for `vip` every `every`; `nodes[i]` is node i's MAC.
    pub fn start(
        from: &Asker,
        vip: Ipv4Addr,
        nodes: Vec<[u8; 6]>,
        every: Duration,
    ) -> std::io::Result<ArpWatch> {
        let (ns, link) = (from.netns.clone(), from.link.clone());
        let fd = std::thread::spawn(move || {
            crate::ns::enter(&ns)?;
            let name = std::ffi::CString::new(link).map_err(std::io::Error::other)?;
            // SAFETY: if_nametoindex(3) on a NUL-terminated name.
            let idx = unsafe { libc::if_nametoindex(name.as_ptr()) };
            if idx == 0 {
                return Err(std::io::Error::last_os_error());
            }
            packet_socket(idx as i32)
        })
        .join()
        .map_err(|_| std::io::Error::other("ARP thread panicked"))??;
        let fd = Arc::new(fd);
        let stop = Arc::new(AtomicBool::new(false));
        let changes: Arc<Mutex<Vec<Change>>> = Arc::default();
        let heard: Heard = Arc::default();
        let receiver = {
            let heard = heard.clone();
            crate::probe::receive(fd.clone(), stop.clone(), move |buf| {
                if let Some(m) = claims(buf, vip) {
                    heard.lock().unwrap().push((Instant::now(), m));
                }
            })
        };
        let frame = request(from.mac, from.ip, vip);
        let sender = {
            let (stop, changes) = (stop.clone(), changes.clone());
            std::thread::spawn(move || {
                let mut held = vec![false; nodes.len()];
                // Per node: the start of the first round it was silent in.
                let mut silent: Vec<Option<Instant>> = vec![None; nodes.len()];
                let mut round: Option<Instant> = None;
                let mut next = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    if let Some(started) = round {
                        let mut h = heard.lock().unwrap();
                        for (i, m) in nodes.iter().enumerate() {
                            let first = h
                                .iter()
                                .filter(|(t, x)| *t >= started && x == m)
                                .map(|(t, _)| *t)
                                .min();
                            match (held[i], first, silent[i]) {
                                (false, Some(t), _) => {
                                    changes.lock().unwrap().push((t, i, true));
                                    held[i] = true;
                                }
                                (true, Some(_), _) => silent[i] = None,
                                // A reply may come late under emulation: one
                                // silent round is not yet letting go.
                                (true, None, None) => silent[i] = Some(started),
                                // Silent for two rounds: gone since the first.
                                (true, None, Some(since)) => {
                                    changes.lock().unwrap().push((since, i, false));
                                    held[i] = false;
                                    silent[i] = None;
                                }
                                (false, None, _) => {}
                            }
                        }
                        h.retain(|(t, _)| *t >= started);
                    }
                    round = Some(now);
                    // SAFETY: send(2) of our frame on a bound packet socket.
                    unsafe {
                        libc::send(fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0);
                    }
                    next += every;
                    if let Some(d) = next.checked_duration_since(Instant::now()) {
                        std::thread::sleep(d);
                    }
                }
            })
        };
        Ok(ArpWatch {
            stop,
            changes,
            threads: vec![receiver, sender],
        })
    }

    /// Who answers now, per node.
    pub fn holders(&self, n: usize) -> Vec<bool> {
        let mut h = vec![false; n];
        for (_, i, holds) in self.changes.lock().unwrap().iter() {
            if *i < n {
                h[*i] = *holds;
            }
        }
        h
    }

    pub fn stop(mut self) -> Vec<Change> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.changes.lock().unwrap().clone()
    }
}

impl Drop for ArpWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_for_the_vip_names_its_sender() {
        let vip = Ipv4Addr::new(10, 5, 0, 50);
        let me = [2, 0, 0, 0, 0, 1];
        let req = request(me, Ipv4Addr::new(10, 5, 0, 1), vip);
        assert_eq!(claims(&req, vip), None, "our own request claims nothing");
        let holder = [2, 0, 10, 5, 0, 11];
        let mut reply = req;
        reply[..6].copy_from_slice(&me);
        reply[6..12].copy_from_slice(&holder);
        reply[21] = 2;
        reply[22..28].copy_from_slice(&holder);
        reply[28..32].copy_from_slice(&vip.octets());
        reply[32..38].copy_from_slice(&me);
        reply[38..42].copy_from_slice(&[10, 5, 0, 1]);
        assert_eq!(claims(&reply, vip), Some(holder));
        assert_eq!(claims(&reply, Ipv4Addr::new(10, 5, 0, 51)), None);
        // A gratuitous ARP (request for itself) claims it too.
        let mut garp = request(holder, vip, vip);
        assert_eq!(claims(&garp, vip), Some(holder));
        garp[12] = 0x08;
        garp[13] = 0x00;
        assert_eq!(claims(&garp, vip), None, "not ARP");
        assert_eq!(claims(&garp[..30], vip), None, "a runt");
        assert_eq!(mac("02:00:0a:05:00:0b"), Some([2, 0, 10, 5, 0, 11]));
        assert_eq!(mac("02:00:0a"), None);
    }
}
