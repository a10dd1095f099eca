//! A client that pings an address every few milliseconds from a namespace
//! (ICMP echo over a raw socket) and records, per probe, when it was sent
//! and when its reply came.

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Probe {
    pub seq: u16,
    pub sent: Instant,
    pub replied: Option<Instant>,
}

pub struct Prober {
    stop: Arc<AtomicBool>,
    probes: Arc<Mutex<Vec<Probe>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from(c[0]) << 8
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn echo(id: u16, seq: u16) -> [u8; 16] {
    let mut p = [0u8; 16];
    p[0] = 8; // echo request
    p[4..6].copy_from_slice(&id.to_be_bytes());
    p[6..8].copy_from_slice(&seq.to_be_bytes());
    let c = checksum(&p);
    p[2..4].copy_from_slice(&c.to_be_bytes());
    p
}

fn raw_icmp_socket() -> std::io::Result<OwnedFd> {
    // SAFETY: socket(2); the fd is owned at once.
    unsafe {
        let fd = libc::socket(
            libc::AF_INET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_ICMP,
        );
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        recv_timeout(&fd, 20_000);
        Ok(fd)
    }
}

/// Sets a receive timeout of `usec` microseconds (under a second) on `fd`.
pub fn recv_timeout(fd: &OwnedFd, usec: i64) {
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: usec,
    };
    // SAFETY: setsockopt(2) with a timeval of the right size.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as u32,
        );
    }
}

/// A thread that reads packets from `fd` (whose receive timeout lets it
/// see `stop`) and hands each to `each`, until `stop`.
pub fn receive(
    fd: Arc<OwnedFd>,
    stop: Arc<AtomicBool>,
    mut each: impl FnMut(&[u8]) + Send + 'static,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while !stop.load(Ordering::Relaxed) {
            // SAFETY: recv(2) into our buffer.
            let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n > 0 {
                each(&buf[..n as usize]);
            }
        }
    })
}

impl Prober {
    /// Starts probing `target` from `netns` every `every`.
    pub fn start(netns: &str, target: Ipv4Addr, every: Duration) -> std::io::Result<Prober> {
        let (tx, rx) = std::sync::mpsc::channel();
        let ns = netns.to_string();
        std::thread::spawn(move || {
            let r = crate::ns::enter(&ns).and_then(|_| raw_icmp_socket());
            let _ = tx.send(r);
        })
        .join()
        .map_err(|_| std::io::Error::other("probe thread panicked"))?;
        let fd = Arc::new(rx.recv().map_err(std::io::Error::other)??);
        let stop = Arc::new(AtomicBool::new(false));
        let probes: Arc<Mutex<Vec<Probe>>> = Arc::default();
        let id = (std::process::id() & 0xffff) as u16;
        let sender = {
            let (fd, stop, probes) = (fd.clone(), stop.clone(), probes.clone());
            std::thread::spawn(move || {
                let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
                addr.sin_family = libc::AF_INET as u16;
                addr.sin_addr.s_addr = u32::from(target).to_be();
                let mut seq: u16 = 0;
                let mut next = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    seq = seq.wrapping_add(1);
                    let pkt = echo(id, seq);
                    let now = Instant::now();
                    probes.lock().unwrap().push(Probe {
                        seq,
                        sent: now,
                        replied: None,
                    });
                    // SAFETY: sendto(2) with a valid buffer and address.
                    unsafe {
                        libc::sendto(
                            fd.as_raw_fd(),
                            pkt.as_ptr().cast(),
                            pkt.len(),
                            0,
                            (&addr as *const libc::sockaddr_in).cast(),
                            std::mem::size_of::<libc::sockaddr_in>() as u32,
                        );
                    }
                    next += every;
                    if let Some(d) = next.checked_duration_since(Instant::now()) {
                        std::thread::sleep(d);
                    }
                }
            })
        };
        let receiver = {
            let probes = probes.clone();
            receive(fd.clone(), stop.clone(), move |buf| {
                let ihl = usize::from(buf[0] & 0x0f) * 4;
                if buf.len() < ihl + 8 || ihl < 20 || buf[ihl] != 0 {
                    return; // not an echo reply
                }
                // Several probers share the socket's replies (one per VIP).
                if buf[12..16] != target.octets() {
                    return;
                }
                let rid = u16::from_be_bytes([buf[ihl + 4], buf[ihl + 5]]);
                let rseq = u16::from_be_bytes([buf[ihl + 6], buf[ihl + 7]]);
                if rid != id {
                    return;
                }
                let now = Instant::now();
                let mut p = probes.lock().unwrap();
                if let Some(pr) = p
                    .iter_mut()
                    .rev()
                    .find(|x| x.seq == rseq && x.replied.is_none())
                {
                    pr.replied = Some(now);
                }
            })
        };
        Ok(Prober {
            stop,
            probes,
            threads: vec![sender, receiver],
        })
    }

    /// Probes so far.
    pub fn snapshot(&self) -> Vec<Probe> {
        self.probes.lock().unwrap().clone()
    }

    /// A reply arrived to a probe sent after `t`.
    pub fn answered_after(&self, t: Instant) -> bool {
        self.probes
            .lock()
            .unwrap()
            .iter()
            .any(|p| p.sent > t && p.replied.is_some())
    }

    pub fn stop(mut self) -> Vec<Probe> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.snapshot()
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The client-visible gap: the longest time between the sending of two
/// answered probes in a row (answered probes only), and the probes lost.
pub fn gap(probes: &[Probe]) -> (Duration, usize) {
    let answered: Vec<&Probe> = probes.iter().filter(|p| p.replied.is_some()).collect();
    let lost = probes.iter().filter(|p| p.replied.is_none()).count();
    let gap = answered
        .windows(2)
        .map(|w| w[1].sent.duration_since(w[0].sent))
        .max()
        .unwrap_or_default();
    (gap, lost)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_checksum_verifies() {
        let p = echo(0x1234, 7);
        assert_eq!(checksum(&p), 0, "a packet with its checksum sums to zero");
    }

    #[test]
    fn gap_is_the_longest_unanswered_stretch() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        let p = |seq: u16, at: u64, ok: bool| Probe {
            seq,
            sent: t + ms(at),
            replied: ok.then(|| t + ms(at + 1)),
        };
        let probes = vec![
            p(1, 0, true),
            p(2, 10, false),
            p(3, 20, false),
            p(4, 30, true),
            p(5, 40, true),
        ];
        assert_eq!(gap(&probes), (ms(30), 2));
    }
}
