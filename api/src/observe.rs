//! ObserveService: the node's events, its own and etcd's logs, the kernel
//! log, each sent from its bounded history and then, when asked, followed;
//! and its processes (`processes.rs`). Readers may call it; at most [`MAX_STREAMS`] streams are open
//! at once per node, and a follower that falls behind is told how much it
//! missed instead of growing a queue.

use crate::kmsg::Kmsg;
use machined_proto as pb;
use machined_resources::resource::rfc3339;
use machined_resources::State;
use machined_telemetry::{events, logs};
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

pub const MAX_STREAMS: usize = 32;
/// Entries per message.
const CHUNK: usize = 256;

type Out<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[derive(Clone)]
pub struct ObserveApi {
    state: State,
    node: String,
    streams: Arc<Semaphore>,
}

impl ObserveApi {
    pub fn new(state: State, node: String) -> Self {
        ObserveApi {
            state,
            node,
            streams: Arc::new(Semaphore::new(MAX_STREAMS)),
        }
    }

    fn admit<T>(&self, req: &Request<T>) -> Result<OwnedSemaphorePermit, Status> {
        crate::auth::check(req, &self.state, crate::auth::Need::Read)?;
        self.streams.clone().try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!(
                "{MAX_STREAMS} event, log and dmesg streams are open on this node already"
            ))
        })
    }
}

/// -1: everything kept; 0: nothing; n: the last n.
fn tail(n: i32) -> Option<Option<usize>> {
    match n {
        0 => None,
        n if n < 0 => Some(None),
        n => Some(Some(n as usize)),
    }
}

fn event(e: &events::Event) -> pb::Event {
    pb::Event {
        id: e.id,
        time: rfc3339::format(e.time),
        kind: e.kind.as_str().to_string(),
        source: e.source.to_string(),
        message: e.message.clone(),
        fields: e.fields.clone().into_iter().collect(),
    }
}

fn line((_, l): &(u64, logs::Line)) -> pb::LogLine {
    pb::LogLine {
        time: rfc3339::format(l.time),
        text: l.text.clone(),
    }
}

/// Sends `items` in chunks; false once the client has gone.
async fn send_chunks<I, T>(
    tx: &mpsc::Sender<Result<T, Status>>,
    items: &[I],
    missed: u64,
    wrap: impl Fn(&[I], u64) -> T,
) -> bool {
    if items.is_empty() {
        return missed == 0 || tx.send(Ok(wrap(&[], missed))).await.is_ok();
    }
    let mut missed = missed;
    for c in items.chunks(CHUNK) {
        if tx.send(Ok(wrap(c, missed))).await.is_err() {
            return false;
        }
        missed = 0;
    }
    true
}

/// Sends the history (`first`, with how much was missed before it), then,
/// when following, whatever `since` gives after the last entry sent each
/// time the source's watch fires, until the client goes; holds its stream
/// slot (`permit`) meanwhile.
fn spawn_follow<I, T>(
    permit: OwnedSemaphorePermit,
    first: (Vec<I>, u64),
    follow: Option<(tokio::sync::watch::Receiver<u64>, u64)>,
    since: impl Fn(u64) -> (Vec<I>, u64) + Send + 'static,
    id: fn(&I) -> u64,
    wrap: impl Fn(&[I], u64) -> T + Send + Sync + 'static,
) -> Out<T>
where
    I: Send + Sync + 'static,
    T: Send + 'static,
{
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        let _permit = permit;
        if !send_chunks(&tx, &first.0, first.1, &wrap).await {
            return;
        }
        let Some((mut sub, mut seen)) = follow else {
            return;
        };
        loop {
            tokio::select! {
                c = sub.changed() => if c.is_err() { return },
                _ = tx.closed() => return,
            }
            let (items, missed) = since(seen);
            if let Some(last) = items.last() {
                seen = id(last);
            }
            if !send_chunks(&tx, &items, missed, &wrap).await {
                return;
            }
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

#[tonic::async_trait]
impl pb::observe_service_server::ObserveService for ObserveApi {
    type EventsStream = Out<pb::EventsResponse>;

    async fn events(
        &self,
        req: Request<pb::EventsRequest>,
    ) -> Result<Response<Self::EventsStream>, Status> {
        let permit = self.admit(&req)?;
        let r = req.into_inner();
        let ev = events::global();
        // Subscribed before the history is read: nothing falls between.
        let sub = ev.subscribe();
        let newest = ev.newest();
        let (first, missed) = if r.since_id > 0 {
            ev.since(r.since_id)
        } else {
            (tail(r.tail_events).map_or(Vec::new(), |n| ev.tail(n)), 0)
        };
        let seen = first.last().map_or(newest.max(r.since_id), |e| e.id);
        let node = self.node.clone();
        let wrap = move |es: &[events::Event], missed| pb::EventsResponse {
            node: node.clone(),
            events: es.iter().map(event).collect(),
            missed,
        };
        let since = move |seen| ev.since(seen);
        Ok(Response::new(spawn_follow(
            permit,
            (first, missed),
            r.follow.then_some((sub, seen)),
            since,
            |e: &events::Event| e.id,
            wrap,
        )))
    }

    type LogsStream = Out<pb::LogsResponse>;

    async fn logs(
        &self,
        req: Request<pb::LogsRequest>,
    ) -> Result<Response<Self::LogsStream>, Status> {
        let ring = logs::ring(&req.get_ref().service).ok_or_else(|| {
            Status::invalid_argument(format!(
                "service: {:?} has no log here (one of: {})",
                req.get_ref().service,
                logs::SERVICES.join(", ")
            ))
        })?;
        let permit = self.admit(&req)?;
        let r = req.into_inner();
        let sub = ring.subscribe();
        let newest = ring.newest();
        let first = tail(r.tail_lines).map_or(Vec::new(), |n| ring.tail(n));
        let seen = first.last().map_or(newest, |l| l.0);
        let node = self.node.clone();
        let wrap = move |ls: &[(u64, logs::Line)], missed| pb::LogsResponse {
            node: node.clone(),
            lines: ls.iter().map(line).collect(),
            missed,
        };
        let since = move |seen| {
            let s = ring.since(seen);
            (s.items, s.missed)
        };
        Ok(Response::new(spawn_follow(
            permit,
            (first, 0),
            r.follow.then_some((sub, seen)),
            since,
            |l: &(u64, logs::Line)| l.0,
            wrap,
        )))
    }

    type DmesgStream = Out<pb::LogsResponse>;

    async fn dmesg(
        &self,
        req: Request<pb::DmesgRequest>,
    ) -> Result<Response<Self::DmesgStream>, Status> {
        let permit = self.admit(&req)?;
        let r = req.into_inner();
        let mut k = Kmsg::open().map_err(|e| Status::unavailable(format!("/dev/kmsg: {e}")))?;
        let keep = match tail(r.tail_lines) {
            None => 0,
            Some(None) => usize::MAX,
            Some(Some(n)) => n,
        };
        let first = k
            .drain(keep)
            .map_err(|e| Status::unavailable(format!("reading /dev/kmsg: {e}")))?;
        let node = self.node.clone();
        let wrap = move |rs: &[machined_telemetry::kmsg::Record], _| pb::LogsResponse {
            node: node.clone(),
            lines: rs
                .iter()
                .map(|r| pb::LogLine {
                    time: String::new(),
                    text: r.line(),
                })
                .collect(),
            missed: 0,
        };
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let _permit = permit;
            if !send_chunks(&tx, &first, 0, &wrap).await || !r.follow {
                return;
            }
            loop {
                let got = tokio::select! {
                    g = k.next(CHUNK) => g,
                    _ = tx.closed() => return,
                };
                match got {
                    Ok(rs) => {
                        if !send_chunks(&tx, &rs, 0, &wrap).await {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx
                            .send(Err(Status::unavailable(format!("reading /dev/kmsg: {e}"))))
                            .await;
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
    async fn processes(
        &self,
        req: Request<pb::ProcessesRequest>,
    ) -> Result<Response<pb::ProcessesResponse>, Status> {
        crate::auth::check(&req, &self.state, crate::auth::Need::Read)?;
        let (processes, omitted) =
            tokio::task::spawn_blocking(|| crate::processes::list(std::path::Path::new("/proc")))
                .await
                .map_err(|e| Status::internal(format!("reading /proc: {e}")))?;
        Ok(Response::new(pb::ProcessesResponse {
            node: self.node.clone(),
            processes,
            omitted,
        }))
    }
}
