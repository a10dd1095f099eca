//! What the dashboard shows, kept fresh per node by watches of VIPStatus,
//! VIPHealthStatus and EtcdStatus over one connection, and a followed
//! event stream.

use crate::session::Session;
use futures::StreamExt;
use machined_client::convert;
use machined_proto as pb;
use machined_resources::resource::ResourceSpec;
use machined_resources::types::{EtcdStatus, VipHealthStatus, VipStatus};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Pause before connecting again after an error.
pub const RETRY: Duration = Duration::from_millis(500);
/// Events kept per node.
pub const EVENTS: usize = 200;

#[derive(Default, Clone)]
pub struct NodeView {
    pub node: String,
    /// Why the last poll failed, if it did.
    pub error: Option<String>,
    pub vips: Vec<VipStatus>,
    pub health: Vec<VipHealthStatus>,
    pub etcd: Option<EtcdStatus>,
    pub events: VecDeque<pb::Event>,
}

pub type Shared = Arc<Mutex<Vec<NodeView>>>;

pub fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Vec<NodeView>> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

type Client =
    machined_proto::resource_service_client::ResourceServiceClient<machined_client::client::Conn>;

/// Keeps `set(view, all)` up to date with every resource of type `T` on
/// the node, through one watch; returns when the watch ends.
async fn watch<T: ResourceSpec>(
    mut c: Client,
    shared: Shared,
    i: usize,
    set: fn(&mut NodeView, Vec<T>),
) -> anyhow::Result<()> {
    let mut st = c
        .watch(pb::WatchRequest {
            r#type: T::TYPE.into(),
            ..Default::default()
        })
        .await
        .map_err(crate::output::status)?
        .into_inner();
    let mut all: BTreeMap<String, T> = BTreeMap::new();
    while let Some(ev) = st.next().await {
        let ev = ev.map_err(crate::output::status)?;
        let Some(r) = ev.resource.as_ref().and_then(convert::from_proto) else {
            continue; // the end of the initial listing
        };
        if ev.event == pb::EventType::Destroyed as i32 {
            all.remove(&r.metadata.id);
        } else if let Ok(spec) = serde_json::from_value(r.spec) {
            all.insert(r.metadata.id, spec);
        }
        let mut g = lock(&shared);
        set(&mut g[i], all.values().cloned().collect());
        g[i].error = None;
    }
    anyhow::bail!("the node ended the watch")
}

/// Watches `node` (index `i`): its VIPs, their checks and its etcd, over
/// one connection; after an error, connects again.
pub async fn watch_node(s: Arc<Session>, i: usize, shared: Shared) {
    let node = lock(&shared)[i].node.clone();
    loop {
        let r = async {
            let c = s.resources(&node).await?;
            tokio::select! {
                r = watch::<VipStatus>(c.clone(), shared.clone(), i, |v, all| v.vips = all) => r,
                r = watch::<VipHealthStatus>(c.clone(), shared.clone(), i, |v, all| v.health = all) => r,
                r = watch::<EtcdStatus>(c, shared.clone(), i, |v, all| v.etcd = all.into_iter().next()) => r,
            }
        }
        .await;
        if let Err(e) = r {
            lock(&shared)[i].error = Some(crate::output::chain(&e));
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Follows `node`'s events, starting with the last few; reconnects after
/// an error, from the last id seen.
pub async fn follow_events(s: Arc<Session>, i: usize, shared: Shared) {
    let node = lock(&shared)[i].node.clone();
    let mut last = 0u64;
    loop {
        let stream = async {
            let mut c = s.observe(&node).await?;
            let r = c
                .events(pb::EventsRequest {
                    tail_events: if last == 0 { 20 } else { 0 },
                    since_id: last,
                    follow: true,
                })
                .await
                .map_err(crate::output::status)?;
            anyhow::Ok(r.into_inner())
        };
        if let Ok(mut st) = stream.await {
            while let Some(Ok(r)) = st.next().await {
                let mut g = lock(&shared);
                let v = &mut g[i];
                for e in r.events {
                    last = last.max(e.id);
                    v.events.push_back(e);
                    if v.events.len() > EVENTS {
                        v.events.pop_front();
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
