//! A receiver of JSON lines in a namespace (as a log server on the LAN
//! would be): accepts TCP connections, records every line with the address
//! it came from, and can be stopped (listener and connections closed) and
//! started again on the same address.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Receiver {
    stop: Arc<AtomicBool>,
    lines: Arc<Mutex<Vec<(IpAddr, serde_json::Value)>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    /// Listens on `addr` inside `netns`.
    pub fn start(netns: &str, addr: SocketAddr) -> std::io::Result<Receiver> {
        let (tx, rx) = std::sync::mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (s, l, ns) = (stop.clone(), lines.clone(), netns.to_string());
        let thread = std::thread::spawn(move || {
            let listener = crate::ns::enter(&ns).and_then(|_| {
                let t = TcpListener::bind(addr)?;
                t.set_nonblocking(true)?;
                Ok(t)
            });
            let listener = match listener {
                Ok(t) => {
                    let _ = tx.send(Ok(()));
                    t
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let mut conns = Vec::new();
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((c, peer)) => {
                        let (s, l) = (s.clone(), l.clone());
                        conns.push(std::thread::spawn(move || read(c, peer.ip(), &s, &l)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            for c in conns {
                let _ = c.join();
            }
        });
        rx.recv()
            .map_err(|_| std::io::Error::other("receiver thread ended"))??;
        Ok(Receiver {
            stop,
            lines,
            thread: Some(thread),
        })
    }

    /// Every line so far, parsed, with the sender's address.
    pub fn lines(&self) -> Vec<(IpAddr, serde_json::Value)> {
        self.lines.lock().unwrap().clone()
    }

    /// Closes the listener and every connection; returns what was received.
    pub fn stop(mut self) -> Vec<(IpAddr, serde_json::Value)> {
        self.halt();
        self.lines()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.halt();
    }
}

fn read(
    c: std::net::TcpStream,
    from: IpAddr,
    stop: &AtomicBool,
    lines: &Mutex<Vec<(IpAddr, serde_json::Value)>>,
) {
    let _ = c.set_nonblocking(false);
    let _ = c.set_read_timeout(Some(Duration::from_millis(100)));
    let mut r = BufReader::new(c);
    let mut buf = String::new();
    while !stop.load(Ordering::Relaxed) {
        match r.read_line(&mut buf) {
            Ok(0) => return,
            Ok(_) if buf.ends_with('\n') => {
                let v = serde_json::from_str(buf.trim_end())
                    .unwrap_or(serde_json::Value::String(buf.trim_end().to_string()));
                lines.lock().unwrap().push((from, v));
                buf.clear();
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}
