//! The long-running tasks an operator controller keeps, one per item (a
//! VIP's election, a link's DHCP client, a VIP's health check), in one set
//! that starts, keeps, stops and restarts them (Talos wraps every operator
//! in `runWithRestarts` and `runWithPanicHandler`; this is ours).
//!
//! A task that panics or returns while its item is still wanted is started
//! again, with backoff: 100 ms, doubling to 30 s, and back to 100 ms once a
//! run has lasted a minute. Each restart counts in `/metrics`
//! (`machined_runner_restarts_total{runner}`) and is an event. A task that
//! ends wakes its controller, whose next reconcile calls [`Runners::revive`].
//!
//! What a runner is (its config `C`, the handle `H` the controller talks to
//! it through) is the controller's: the handle outlives restarts, so a
//! restarted runner picks up where its controller's wishes are.

use crate::Waker;
use futures::future::BoxFuture;
use futures::FutureExt;
use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;
use std::panic::AssertUnwindSafe;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A run this long resets the backoff.
const STEADY: Duration = Duration::from_secs(60);

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    Returned,
    Panicked(String),
}

/// Starts a runner's task: its item, its config, its handle, and how many
/// times it was started before (0 the first time).
pub type Start<K, C, H> = Box<dyn Fn(&K, &C, &H, u32) -> BoxFuture<'static, ()> + Send + Sync>;

/// One runner.
pub struct Slot<C, H> {
    /// What it was started with: a different config restarts it.
    pub config: C,
    /// How its controller talks to it; kept across restarts.
    pub handle: H,
    /// `None` once it ended and was seen ended.
    task: Option<JoinHandle<Ended>>,
    started: Instant,
    /// Starts so far, the first included.
    starts: u32,
    backoff: Duration,
    /// Ended and waiting to be started again at this instant.
    again_at: Option<Instant>,
}

impl<C, H> Slot<C, H> {
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Waits up to `within` for the task to end; true if it did.
    pub async fn join(self, within: Duration) -> bool {
        match self.task {
            Some(t) => tokio::time::timeout(within, t).await.is_ok(),
            None => true,
        }
    }

    pub fn abort(&self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }

    /// Parts the runner into its handle (to say a last word through, then
    /// drop: a runner whose handle is gone ends) and what is left to wait on.
    pub fn part(self) -> (H, Slot<C, ()>) {
        let Slot {
            config,
            handle,
            task,
            started,
            starts,
            backoff,
            again_at,
        } = self;
        let rest = Slot {
            config,
            handle: (),
            task,
            started,
            starts,
            backoff,
            again_at,
        };
        (handle, rest)
    }

    /// Times it was started again after ending.
    pub fn restarts(&self) -> u32 {
        self.starts.saturating_sub(1)
    }
}

pub struct Runners<K, C, H> {
    /// The runner kind, for metrics, events and logs: `vip`, `dhcp`, ...
    what: &'static str,
    start: Start<K, C, H>,
    waker: Waker,
    slots: HashMap<K, Slot<C, H>>,
}

/// Starts a runner's task, which wakes `waker` when it ends.
fn spawn<K, C, H>(
    start: &Start<K, C, H>,
    waker: &Waker,
    key: &K,
    config: &C,
    handle: &H,
    starts: u32,
) -> JoinHandle<Ended> {
    let task = start(key, config, handle, starts);
    let waker = waker.clone();
    tokio::spawn(async move {
        let ended = match AssertUnwindSafe(task).catch_unwind().await {
            Ok(()) => Ended::Returned,
            Err(p) => Ended::Panicked(panic_text(p)),
        };
        waker.wake();
        ended
    })
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

impl<K, C, H> Runners<K, C, H>
where
    K: Eq + Hash + Clone + Display,
    C: PartialEq,
{
    pub fn new(what: &'static str, start: Start<K, C, H>) -> Self {
        Runners {
            what,
            start,
            waker: Waker::default(),
            slots: HashMap::new(),
        }
    }

    /// The waker of the controller that owns the set: an ending task wakes it.
    pub fn set_waker(&mut self, waker: Waker) {
        self.waker = waker;
    }

    fn spawn(&self, key: &K, config: &C, handle: &H, starts: u32) -> JoinHandle<Ended> {
        spawn(&self.start, &self.waker, key, config, handle, starts)
    }

    /// A runner for `key` with `config`: kept if one runs with that config;
    /// else started (its handle made by `handle`). One that ran with another
    /// config is returned, still running, for the caller to stop as it must.
    pub fn ensure(&mut self, key: &K, config: C, handle: impl FnOnce() -> H) -> Option<Slot<C, H>> {
        if self.slots.get(key).is_some_and(|s| s.config == config) {
            return None;
        }
        let old = self.slots.remove(key);
        let handle = handle();
        let task = self.spawn(key, &config, &handle, 0);
        self.slots.insert(
            key.clone(),
            Slot {
                config,
                handle,
                task: Some(task),
                started: Instant::now(),
                starts: 1,
                backoff: FIRST_BACKOFF,
                again_at: None,
            },
        );
        old
    }

    /// Stops tracking the runners `keep` refuses and returns them, still
    /// running, for the caller to stop as it must.
    pub fn take_unwanted(&mut self, keep: impl Fn(&K) -> bool) -> Vec<(K, Slot<C, H>)> {
        let gone: Vec<K> = self.slots.keys().filter(|k| !keep(k)).cloned().collect();
        gone.into_iter()
            .filter_map(|k| self.slots.remove(&k).map(|s| (k, s)))
            .collect()
    }

    /// Every runner, for the caller to stop them all.
    pub fn take_all(&mut self) -> Vec<(K, Slot<C, H>)> {
        self.slots.drain().collect()
    }

    /// Starts again every runner that ended (not before its backoff); the
    /// time until the next one is due, if any waits.
    pub fn revive(&mut self) -> Option<Duration> {
        let now = Instant::now();
        let mut next: Option<Duration> = None;
        let keys: Vec<K> = self.slots.keys().cloned().collect();
        for key in keys {
            let Some(slot) = self.slots.get_mut(&key) else {
                continue;
            };
            if !slot.is_finished() {
                continue;
            }
            if let Some(task) = slot.task.take() {
                if slot.started.elapsed() >= STEADY {
                    slot.backoff = FIRST_BACKOFF;
                }
                slot.again_at = Some(now + slot.backoff);
                let ended = match task.now_or_never() {
                    Some(Ok(e)) => e,
                    Some(Err(e)) => Ended::Panicked(e.to_string()),
                    None => Ended::Returned,
                };
                report(self.what, &key, &ended, slot.backoff);
                slot.backoff = (slot.backoff * 2).min(MAX_BACKOFF);
            }
            let at = slot.again_at.unwrap_or(now);
            if at > now {
                let left = at - now;
                next = Some(next.map_or(left, |n| n.min(left)));
                continue;
            }
            slot.task = Some(spawn(
                &self.start,
                &self.waker,
                &key,
                &slot.config,
                &slot.handle,
                slot.starts,
            ));
            slot.started = now;
            slot.starts += 1;
            slot.again_at = None;
        }
        next
    }

    pub fn get(&self, key: &K) -> Option<&Slot<C, H>> {
        self.slots.get(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &Slot<C, H>)> {
        self.slots.iter()
    }

    pub fn contains(&self, key: &K) -> bool {
        self.slots.contains_key(key)
    }
}

/// An ended runner, in the log, the metrics and the events.
fn report(what: &str, key: &impl Display, ended: &Ended, after: Duration) {
    let how = match ended {
        Ended::Returned => "ended".to_string(),
        Ended::Panicked(m) => format!("panicked: {m}"),
    };
    tracing::error!(runner = what, item = %key, how = %how, restart_in_ms = after.as_millis() as u64,
        "a runner stopped unexpectedly; starting it again");
    machined_telemetry::metrics::get().runner_restarted(what);
    let item = key.to_string();
    machined_telemetry::emit(
        machined_telemetry::Kind::RunnerRestarted,
        "runtime",
        &format!(
            "the {what} runner of {item} {how}; starting it again in {} ms",
            after.as_millis()
        ),
        &[("runner", what), ("item", &item)],
    );
}

#[cfg(test)]
#[path = "operator_tests.rs"]
mod tests;
