//! A VLAN interface in a namespace, for a host kernel without 8021q (and
//! without bridge VLAN filtering), such as the one CI runs on: two TAP
//! devices and a thread between them do what `ip link add ... type vlan`
//! would. The VLAN interface (`NAME`) is a TAP whose frames the thread
//! tags with the VLAN id and writes into a second TAP (`NAMEw`), a port of
//! the lab bridge; 802.1Q frames of that id arriving there lose their tag
//! and go to `NAME`. Everything above the link (ARP, ping, the neighbour
//! table) is the namespace's own kernel. Both TAPs belong to this process:
//! they vanish when the port is dropped, or when the process dies.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
const TPID: [u8; 2] = [0x81, 0x00];

#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// A TAP device named `name` in the calling thread's namespace.
fn open_tap(name: &str) -> std::io::Result<OwnedFd> {
    if name.len() >= libc::IFNAMSIZ {
        return Err(std::io::Error::other(format!("{name:?}: name too long")));
    }
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        flags: IFF_TAP | IFF_NO_PI,
        _pad: [0; 22],
    };
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: open(2) of a path literal; the fd is owned at once; the ioctl
    // gets a properly sized struct ifreq.
    unsafe {
        let fd = libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        if libc::ioctl(fd.as_raw_fd(), TUNSETIFF, &mut req) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(fd)
    }
}

/// The frame with an 802.1Q tag of `vid` after its two MAC addresses.
pub fn tag(frame: &[u8], vid: u16) -> Option<Vec<u8>> {
    if frame.len() < 14 {
        return None;
    }
    let mut out = Vec::with_capacity(frame.len() + 4);
    out.extend_from_slice(&frame[..12]);
    out.extend_from_slice(&TPID);
    out.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
    out.extend_from_slice(&frame[12..]);
    Some(out)
}

/// The frame without its 802.1Q tag, if it carries one of `vid`.
pub fn untag(frame: &[u8], vid: u16) -> Option<Vec<u8>> {
    if frame.len() < 18 || frame[12..14] != TPID {
        return None;
    }
    let tci = u16::from_be_bytes([frame[14], frame[15]]);
    if tci & 0x0fff != vid {
        return None;
    }
    let mut out = Vec::with_capacity(frame.len() - 4);
    out.extend_from_slice(&frame[..12]);
    out.extend_from_slice(&frame[16..]);
    Some(out)
}

/// Copies frames from `from` to `to` through `f` until `stop`.
fn pump(
    from: Arc<OwnedFd>,
    to: Arc<OwnedFd>,
    stop: Arc<AtomicBool>,
    f: impl Fn(&[u8]) -> Option<Vec<u8>>,
) {
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let mut pfd = libc::pollfd {
            fd: from.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll(2) on one valid pollfd; read(2)/write(2) with our buffers.
        unsafe {
            if libc::poll(&mut pfd, 1, 100) <= 0 {
                continue;
            }
            let n = libc::read(from.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len());
            if n <= 0 {
                continue;
            }
            if let Some(out) = f(&buf[..n as usize]) {
                libc::write(to.as_raw_fd(), out.as_ptr().cast(), out.len());
            }
        }
    }
}

pub struct VlanPort {
    pub name: String,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl VlanPort {
    /// `NAME` in namespace `ns` on VLAN `vid` of `bridge` (through the port
    /// `NAMEw`); both up, no address yet.
    pub fn start(ns: &str, bridge: &str, name: &str, vid: u16) -> std::io::Result<VlanPort> {
        let wire = format!("{name}w");
        let (n, w) = (name.to_string(), wire.clone());
        let nsname = ns.to_string();
        let (fa, fb) = std::thread::spawn(move || {
            crate::ns::enter(&nsname)?;
            Ok::<_, std::io::Error>((open_tap(&n)?, open_tap(&w)?))
        })
        .join()
        .map_err(|_| std::io::Error::other("tap thread panicked"))??;
        let run = |args: &[&str]| {
            let out = std::process::Command::new("ip")
                .arg("-n")
                .arg(ns)
                .args(args)
                .output()?;
            if out.status.success() {
                Ok(())
            } else {
                Err(std::io::Error::other(format!(
                    "ip {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                )))
            }
        };
        run(&["link", "set", &wire, "master", bridge])?;
        run(&["link", "set", &wire, "up"])?;
        run(&["link", "set", name, "up"])?;
        let (fa, fb) = (Arc::new(fa), Arc::new(fb));
        let stop = Arc::new(AtomicBool::new(false));
        let out = {
            let (a, b, s) = (fa.clone(), fb.clone(), stop.clone());
            std::thread::spawn(move || pump(a, b, s, |f| tag(f, vid)))
        };
        let back = std::thread::spawn({
            let s = stop.clone();
            move || pump(fb, fa, s, |f| untag(f, vid))
        });
        Ok(VlanPort {
            name: name.to_string(),
            stop,
            threads: vec![out, back],
        })
    }
}

impl Drop for VlanPort {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // The threads own the TAPs' last references: joining them closes
        // both, and the kernel removes the devices.
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tagged_frame_untags_to_the_original() {
        let frame: Vec<u8> = (0u8..60).collect();
        let t = tag(&frame, 100).unwrap();
        assert_eq!(t.len(), 64);
        assert_eq!(&t[12..16], &[0x81, 0x00, 0x00, 100]);
        assert_eq!(untag(&t, 100).unwrap(), frame);
        assert_eq!(untag(&t, 101), None, "another VLAN's frame");
        assert_eq!(untag(&frame, 100), None, "an untagged frame");
        assert_eq!(tag(&frame[..10], 100), None, "a runt");
    }
}
