//! One destination: JSON lines over TCP (one connection, lines separated by
//! `\n`) or UDP (a datagram per line), read from the node's bounded rings
//! (the logs of machined and etcd, or the events). The rings are the only
//! queue: nothing a receiver does can block machined, which only ever
//! pushes to a ring. A slow or gone receiver loses what leaves the ring
//! before it is sent; that is counted (`machined_sink_lines_dropped_total`)
//! and said in an event, at most once a minute. Connections are made again
//! with backoff (100 ms, doubling to 5 s).

use machined_resources::config::logging::{SinkEndpoint, Transport};
use machined_resources::resource::rfc3339;
use machined_telemetry::{logs, metrics};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Connecting or writing one batch takes at most this.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// Lines sent in one write at most.
const BATCH: usize = 256;
/// A drop is said in an event at most this often.
const SAY_DROPS_EVERY: Duration = Duration::from_secs(60);

/// What a destination carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// The logs of machined and etcd (`machine.logging.destinations`).
    Logs,
    /// The node's events (`EventSinkConfig`).
    Events,
}

/// A destination as the controller starts it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    pub stream: Stream,
    pub endpoint: SinkEndpoint,
    pub tags: BTreeMap<String, String>,
}

enum Conn {
    Tcp(TcpStream),
    Udp(UdpSocket),
}

impl Conn {
    async fn open(e: &SinkEndpoint) -> std::io::Result<Conn> {
        let addr = (e.host.as_str(), e.port);
        match e.transport {
            Transport::Tcp => Ok(Conn::Tcp(TcpStream::connect(addr).await?)),
            Transport::Udp => {
                let any = if e.host.contains(':') {
                    "[::]:0"
                } else {
                    "0.0.0.0:0"
                };
                let s = UdpSocket::bind(any).await?;
                s.connect(addr).await?;
                Ok(Conn::Udp(s))
            }
        }
    }

    async fn send(&mut self, lines: &[String]) -> std::io::Result<()> {
        match self {
            Conn::Tcp(s) => {
                let mut buf = Vec::new();
                for l in lines {
                    buf.extend_from_slice(l.as_bytes());
                    buf.push(b'\n');
                }
                s.write_all(&buf).await
            }
            Conn::Udp(s) => {
                for l in lines {
                    s.send(l.as_bytes()).await?;
                }
                Ok(())
            }
        }
    }
}

/// Where each ring was read up to.
struct Cursor {
    seen: Vec<u64>,
}

/// A log line as Talos's json_lines carries it.
fn log_line(
    service: &str,
    time: std::time::SystemTime,
    text: &str,
    tags: &BTreeMap<String, String>,
) -> String {
    let mut m = Map::new();
    for (k, v) in tags {
        m.insert(k.clone(), Value::String(v.clone()));
    }
    m.insert("msg".into(), Value::String(text.to_string()));
    m.insert("talos-service".into(), Value::String(service.to_string()));
    m.insert("talos-time".into(), Value::String(rfc3339::format(time)));
    Value::Object(m).to_string()
}

fn event_line(e: &machined_telemetry::events::Event, tags: &BTreeMap<String, String>) -> String {
    let mut m = Map::new();
    for (k, v) in tags {
        m.insert(k.clone(), Value::String(v.clone()));
    }
    m.insert("id".into(), Value::from(e.id));
    m.insert("time".into(), Value::String(rfc3339::format(e.time)));
    m.insert("kind".into(), Value::String(e.kind.as_str().to_string()));
    m.insert("source".into(), Value::String(e.source.to_string()));
    m.insert("message".into(), Value::String(e.message.clone()));
    let fields = e
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    m.insert("fields".into(), Value::Object(fields));
    Value::Object(m).to_string()
}

/// What [`take`] read.
struct Taken {
    lines: Vec<String>,
    /// The cursor after the lines.
    next: Cursor,
    /// The cursor before them (after what was missed): where to start again
    /// if sending them fails.
    floor: Cursor,
    /// Lines that left the rings unsent.
    missed: u64,
}

/// What is new since `c`, at most [`BATCH`] lines.
fn take(d: &Destination, c: &Cursor) -> Taken {
    let mut lines = Vec::new();
    let mut missed = 0;
    let mut next = c.seen.clone();
    let mut floor = c.seen.clone();
    let mut read = |i: usize, items: Vec<(u64, String)>, gap: u64, lines: &mut Vec<String>| {
        missed += gap;
        // Past the gap, before the first line kept.
        let after_gap = items
            .first()
            .map_or(c.seen[i] + gap, |(id, _)| id.saturating_sub(1));
        floor[i] = after_gap;
        next[i] = after_gap;
        for (id, l) in items.into_iter().take(BATCH.saturating_sub(lines.len())) {
            lines.push(l);
            next[i] = id;
        }
    };
    match d.stream {
        Stream::Logs => {
            for (i, svc) in logs::SERVICES.iter().enumerate() {
                let Some(ring) = logs::ring(svc) else {
                    continue;
                };
                let s = ring.since_at_most(c.seen[i], BATCH.saturating_sub(lines.len()));
                let items = s
                    .items
                    .into_iter()
                    .map(|(id, l)| (id, log_line(svc, l.time, &l.text, &d.tags)))
                    .collect();
                read(i, items, s.missed, &mut lines);
            }
        }
        Stream::Events => {
            let (evs, gap) = machined_telemetry::events::global().since_at_most(c.seen[0], BATCH);
            let items = evs.iter().map(|e| (e.id, event_line(e, &d.tags))).collect();
            read(0, items, gap, &mut lines);
        }
    }
    Taken {
        lines,
        next: Cursor { seen: next },
        floor: Cursor { seen: floor },
        missed,
    }
}

fn start(d: &Destination) -> Cursor {
    // From now: a destination gets what happens once it is configured.
    let seen = match d.stream {
        Stream::Logs => logs::SERVICES
            .iter()
            .map(|s| logs::ring(s).map_or(0, |r| r.newest()))
            .collect(),
        Stream::Events => vec![machined_telemetry::events::global().newest()],
    };
    Cursor { seen }
}

/// Until a ring this destination reads has a new entry, or a second
/// passes (a push between the read and the subscription is seen then).
async fn changed(d: &Destination) {
    let mut rx: Vec<tokio::sync::watch::Receiver<u64>> = match d.stream {
        Stream::Logs => logs::SERVICES
            .iter()
            .filter_map(|s| logs::ring(s).map(|r| r.subscribe()))
            .collect(),
        Stream::Events => vec![machined_telemetry::events::global().subscribe()],
    };
    if rx.is_empty() {
        return tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let any = futures::future::select_all(rx.iter_mut().map(|r| Box::pin(r.changed())));
    let _ = tokio::time::timeout(Duration::from_secs(1), any).await;
}

/// Pushes until aborted.
pub async fn run(d: Destination) {
    let name = d.endpoint.to_string();
    let mut cursor = start(&d);
    let mut backoff = FIRST_BACKOFF;
    let mut dropped = Dropped::default();
    loop {
        let mut conn = match tokio::time::timeout(IO_TIMEOUT, Conn::open(&d.endpoint)).await {
            Ok(Ok(c)) => {
                tracing::info!(destination = %name, "sending to the destination");
                backoff = FIRST_BACKOFF;
                c
            }
            Ok(Err(e)) => {
                tracing::debug!(destination = %name, error = %e, "cannot reach the destination; trying again");
                dropped.count(&name, &d, &mut cursor);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
            Err(_) => {
                dropped.count(&name, &d, &mut cursor);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        loop {
            let t = take(&d, &cursor);
            dropped.add(&name, t.missed);
            if t.lines.is_empty() {
                cursor = t.next;
                changed(&d).await;
                continue;
            }
            match tokio::time::timeout(IO_TIMEOUT, conn.send(&t.lines)).await {
                Ok(Ok(())) => {
                    metrics::get().sink_sent(&name, t.lines.len() as u64);
                    cursor = t.next;
                }
                Ok(Err(e)) => {
                    tracing::debug!(destination = %name, error = %e, "sending failed; connecting again");
                    cursor = t.floor;
                    break;
                }
                Err(_) => {
                    tracing::debug!(destination = %name, "the destination is too slow; connecting again");
                    cursor = t.floor;
                    break;
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Lines lost, counted as soon as they are (connected or not) and said in
/// an event at most once a minute.
#[derive(Default)]
struct Dropped {
    unsaid: u64,
    said_at: Option<Instant>,
}

impl Dropped {
    fn add(&mut self, name: &str, n: u64) {
        if n > 0 {
            metrics::get().sink_dropped(name, n);
            self.unsaid += n;
        }
        if self.unsaid > 0 && self.said_at.is_none_or(|t| t.elapsed() >= SAY_DROPS_EVERY) {
            say_dropped(name, self.unsaid);
            self.unsaid = 0;
            self.said_at = Some(Instant::now());
        }
    }

    /// While disconnected: what left the rings since `cursor` is lost;
    /// the lines still kept wait for the connection.
    fn count(&mut self, name: &str, d: &Destination, cursor: &mut Cursor) {
        let t = take(d, cursor);
        self.add(name, t.missed);
        *cursor = t.floor;
    }
}

fn say_dropped(name: &str, n: u64) {
    // Said in the log too: a log destination that is the one dropping will
    // carry the line once it is back.
    tracing::warn!(destination = %name, lines = n, "a destination lost lines: its receiver is slow or gone");
    machined_telemetry::emit(
        machined_telemetry::Kind::SinkDropping,
        "telemetry.SinkController",
        &format!("{n} line(s) for {name} left the ring unsent: its receiver is slow or gone"),
        &[("destination", name), ("lines", &n.to_string())],
    );
}

#[cfg(test)]
#[path = "push_tests.rs"]
mod tests;
