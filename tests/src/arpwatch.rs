//! Who answers for the VIP, as a client on the LAN sees it: an ARP request
//! for the VIP every few milliseconds from the LAN namespace's bridge, and,
//! for each request, every MAC that answered it. Two MACs answering one
//! request is two holders, whatever machined believes.
//!
//! Each request is told apart by its sender address, taken from the
//! benchmarking range 198.18.0.0/15 (RFC 2544): an ARP reply is sent to the
//! asker's address, so the reply's target address names the request it
//! answers, however late it comes (a frozen VM's backlog included).
//! Gratuitous ARP for the VIP (sender = target = VIP) is recorded too,
//! with its MAC and time.

use crate::monitor::Change;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ETH_P_ARP: u16 = 0x0806;
/// 198.18.0.0: request `n` is sent from this plus `n` (mod [`ROUNDS`]).
const BASE: u32 = 0xc612_0000;
const ROUNDS: u32 = 1 << 17;
/// How far back "answers now" looks.
const RECENT: Duration = Duration::from_secs(1);

pub type Mac = [u8; 6];

/// One request and who answered it, when.
#[derive(Debug, Clone)]
pub struct Round {
    pub sent: Instant,
    pub answers: Vec<(Mac, Instant)>,
}

/// Everything the watch saw.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub rounds: Vec<Round>,
    /// Gratuitous ARP for the VIP: who, when.
    pub announcements: Vec<(Mac, Instant)>,
}

/// Parses a MAC written `aa:bb:cc:dd:ee:ff`.
pub fn mac(s: &str) -> Option<Mac> {
    let v: Vec<u8> = s
        .split(':')
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    v.try_into().ok()
}

/// An ARP request for `target` from (`mac`, `ip`), broadcast.
pub fn request(src_mac: Mac, src_ip: Ipv4Addr, target: Ipv4Addr) -> [u8; 42] {
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

/// The sender address of round `n`.
pub fn round_ip(n: u32) -> Ipv4Addr {
    Ipv4Addr::from(BASE + n % ROUNDS)
}

/// What an ARP frame says about `vip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Said {
    /// A reply to round `n` (mod [`ROUNDS`]) from this MAC.
    Answer(u32, Mac),
    /// A gratuitous ARP for the VIP from this MAC.
    Announce(Mac),
}

pub fn said(frame: &[u8], vip: Ipv4Addr) -> Option<Said> {
    if frame.len() < 42 || frame[12..14] != ETH_P_ARP.to_be_bytes() {
        return None;
    }
    let op = u16::from_be_bytes([frame[20], frame[21]]);
    let sha: Mac = frame[22..28].try_into().ok()?;
    let spa = Ipv4Addr::new(frame[28], frame[29], frame[30], frame[31]);
    let tpa = Ipv4Addr::new(frame[38], frame[39], frame[40], frame[41]);
    if spa != vip {
        return None;
    }
    if tpa == vip {
        return Some(Said::Announce(sha));
    }
    let t = u32::from(tpa);
    (op == 2 && (BASE..BASE + ROUNDS).contains(&t)).then(|| Said::Answer(t - BASE, sha))
}

fn packet_socket(ifindex: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: socket(2)/bind(2) with properly sized structs; the fd is
    // owned at once.
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

/// Where to ask from: the LAN namespace, its bridge, the bridge's MAC.
pub struct Asker {
    pub netns: String,
    pub link: String,
    pub mac: Mac,
}

/// A packet socket on `link` in namespace `netns`.
pub fn open(netns: &str, link: &str) -> std::io::Result<OwnedFd> {
    let (ns, link) = (netns.to_string(), link.to_string());
    std::thread::spawn(move || {
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
    .map_err(|_| std::io::Error::other("ARP thread panicked"))?
}

pub struct ArpWatch {
    stop: Arc<AtomicBool>,
    record: Arc<Mutex<Record>>,
    nodes: Vec<Mac>,
    every: Duration,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl ArpWatch {
    /// Asks for `vip` every `every`; `nodes[i]` is node i's MAC.
    pub fn start(
        from: &Asker,
        vip: Ipv4Addr,
        nodes: Vec<Mac>,
        every: Duration,
    ) -> std::io::Result<ArpWatch> {
        let fd = Arc::new(open(&from.netns, &from.link)?);
        let stop = Arc::new(AtomicBool::new(false));
        let record: Arc<Mutex<Record>> = Arc::default();
        let receiver = {
            let record = record.clone();
            crate::probe::receive(fd.clone(), stop.clone(), move |buf| {
                let now = Instant::now();
                let mut r = record.lock().unwrap();
                match said(buf, vip) {
                    Some(Said::Answer(n, m)) => {
                        // The latest round with that number.
                        let len = r.rounds.len() as u32;
                        let back = (len.wrapping_sub(1).wrapping_sub(n)) % ROUNDS;
                        if let Some(i) = len.checked_sub(1 + back) {
                            r.rounds[i as usize].answers.push((m, now));
                        }
                    }
                    Some(Said::Announce(m)) => r.announcements.push((m, now)),
                    None => {}
                }
            })
        };
        let sender = {
            let (stop, record, asker) = (stop.clone(), record.clone(), from.mac);
            std::thread::spawn(move || {
                let mut next = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    let frame = {
                        let mut r = record.lock().unwrap();
                        let n = r.rounds.len() as u32;
                        r.rounds.push(Round {
                            sent: Instant::now(),
                            answers: Vec::new(),
                        });
                        request(asker, round_ip(n), vip)
                    };
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
            record,
            nodes,
            every,
            threads: vec![receiver, sender],
        })
    }

    pub fn snapshot(&self) -> Record {
        self.record.lock().unwrap().clone()
    }

    /// Who answers now, per node: answered a request sent in the last
    /// [`RECENT`] (an answer waits for a proof from etcd, which takes up to
    /// a few hundred milliseconds in an emulated VM).
    pub fn holders(&self, n: usize) -> Vec<bool> {
        let r = self.record.lock().unwrap();
        let since = Instant::now() - RECENT.max(3 * self.every);
        let recent: Vec<&Round> = r
            .rounds
            .iter()
            .rev()
            .take_while(|x| x.sent >= since)
            .collect();
        (0..n)
            .map(|i| {
                self.nodes
                    .get(i)
                    .is_some_and(|m| recent.iter().any(|x| x.answers.iter().any(|(a, _)| a == m)))
            })
            .collect()
    }

    /// The one node that answers now, if exactly one does.
    pub fn sole_holder(&self, n: usize) -> Option<usize> {
        let h = self.holders(n);
        let mut who = (0..n).filter(|i| h[*i]);
        match (who.next(), who.next()) {
            (Some(i), None) => Some(i),
            _ => None,
        }
    }

    /// Who answered the last answered request, if one node alone did (the
    /// client's view of the holder, however slow its answers are).
    pub fn last_answering(&self) -> Option<usize> {
        let r = self.record.lock().unwrap();
        let last = r.rounds.iter().rev().find(|x| !x.answers.is_empty())?;
        let who: Vec<usize> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, m)| last.answers.iter().any(|(a, _)| a == *m))
            .map(|(i, _)| i)
            .collect();
        (who.len() == 1).then(|| who[0])
    }

    /// A request sent after `t` was answered.
    pub fn answered_after(&self, t: Instant) -> bool {
        let r = self.record.lock().unwrap();
        r.rounds
            .iter()
            .rev()
            .take_while(|x| x.sent > t)
            .any(|x| !x.answers.is_empty())
    }

    /// Stops; what was seen, and who held when (per node, from answers).
    pub fn stop(mut self) -> (Record, Vec<Change>) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let rec = self.snapshot();
        let changes = changes(&rec.rounds, &self.nodes);
        (rec, changes)
    }
}

impl Drop for ArpWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Who held when, per node, from the rounds: holding from its first answer,
/// gone after two rounds without one (an emulated machine's reply can miss
/// its round), dated from the first.
pub fn changes(rounds: &[Round], nodes: &[Mac]) -> Vec<Change> {
    let mut out = Vec::new();
    let mut held = vec![false; nodes.len()];
    let mut silent: Vec<Option<Instant>> = vec![None; nodes.len()];
    for r in rounds {
        for (i, m) in nodes.iter().enumerate() {
            let first = r
                .answers
                .iter()
                .filter(|(a, _)| a == m)
                .map(|(_, t)| *t)
                .min();
            match (held[i], first, silent[i]) {
                (false, Some(t), _) => {
                    out.push((t, i, true));
                    held[i] = true;
                }
                (true, Some(_), _) => silent[i] = None,
                (true, None, None) => silent[i] = Some(r.sent),
                (true, None, Some(since)) => {
                    out.push((since, i, false));
                    held[i] = false;
                    silent[i] = None;
                }
                (false, None, _) => {}
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "arpwatch_tests.rs"]
mod tests;
