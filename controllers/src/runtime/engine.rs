//! Runs controllers: one task each, woken by input changes and wakers,
//! retried with exponential backoff on error or panic, stopped in reverse
//! order of registration.

use super::{Controller, ControllerError, Ctx, Waker};
use futures::{FutureExt, StreamExt};
use machined_resources::State;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RegisterError {
    #[error("controller {0} is registered twice")]
    Duplicate(&'static str),
    #[error("output {type_} of {controller} is already owned exclusively by {other}")]
    OutputConflict {
        type_: &'static str,
        controller: &'static str,
        other: &'static str,
    },
}

/// Exponential backoff between failed reconciles.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
        }
    }
}

pub struct Engine {
    state: State,
    backoff: Backoff,
    controllers: Vec<Box<dyn Controller>>,
    /// type -> (controller, exclusive) for every declared output.
    owners: HashMap<&'static str, Vec<(&'static str, bool)>>,
}

impl Engine {
    pub fn new(state: State) -> Self {
        Engine {
            state,
            backoff: Backoff::default(),
            controllers: Vec::new(),
            owners: HashMap::new(),
        }
    }

    /// Adds a controller. Refused if its name is taken, or if it declares an
    /// output another controller owns exclusively (or claims exclusively an
    /// output someone else already writes).
    pub fn register(&mut self, c: impl Controller) -> Result<(), RegisterError> {
        let name = c.name();
        if self.controllers.iter().any(|o| o.name() == name) {
            return Err(RegisterError::Duplicate(name));
        }
        for out in c.outputs() {
            let owners = self
                .owners
                .get(out.type_)
                .map(Vec::as_slice)
                .unwrap_or_default();
            if let Some((other, _)) = owners.iter().find(|(_, excl)| *excl || out.exclusive) {
                return Err(RegisterError::OutputConflict {
                    type_: out.type_,
                    controller: name,
                    other,
                });
            }
        }
        for out in c.outputs() {
            self.owners
                .entry(out.type_)
                .or_default()
                .push((name, out.exclusive));
        }
        self.controllers.push(Box::new(c));
        Ok(())
    }

    /// Starts every controller. A controller's first reconcile waits until
    /// every controller registered before it that writes one of its inputs
    /// has finished its first reconcile, so no one acts on a half-built
    /// state at start-up (e.g. removing addresses whose specs are not
    /// rendered yet).
    pub fn start(self) -> Running {
        let primed = Primed::default();
        let mut earlier: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
        let mut tasks = Vec::new();
        for c in self.controllers {
            let inputs: Vec<&str> = c.inputs().iter().map(|i| i.type_).collect();
            let producers: Vec<&'static str> = earlier
                .iter()
                .filter(|(_, outs)| outs.iter().any(|o| inputs.contains(o)))
                .map(|(n, _)| *n)
                .collect();
            earlier.push((c.name(), c.outputs().iter().map(|o| o.type_).collect()));
            let token = CancellationToken::new();
            let name = c.name();
            let task = Task {
                state: self.state.clone(),
                backoff: self.backoff,
                token: token.clone(),
                primed: primed.clone(),
                producers,
            };
            tasks.push((name, token, tokio::spawn(run(c, task))));
        }
        Running { tasks }
    }
}

/// The running engine.
pub struct Running {
    tasks: Vec<(&'static str, CancellationToken, JoinHandle<()>)>,
}

impl Running {
    /// Stops controllers one by one, last registered first, each after its
    /// `shutdown` hook has run.
    pub async fn shutdown(self) {
        for (name, token, handle) in self.tasks.into_iter().rev() {
            token.cancel();
            if let Err(e) = handle.await {
                tracing::error!(controller = name, error = %machined_resources::error::chain(&e), "controller task failed");
            }
        }
    }
}

/// Names of controllers that have finished a first reconcile.
#[derive(Clone, Default)]
struct Primed(std::sync::Arc<(std::sync::Mutex<Vec<&'static str>>, tokio::sync::Notify)>);

impl Primed {
    fn mark(&self, name: &'static str) {
        self.0
             .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(name);
        self.0 .1.notify_waiters();
    }

    async fn wait_for(&self, names: &[&'static str]) {
        loop {
            let notified = self.0 .1.notified();
            {
                let done = self.0 .0.lock().unwrap_or_else(|e| e.into_inner());
                if names.iter().all(|n| done.contains(n)) {
                    return;
                }
            }
            notified.await;
        }
    }
}

struct Task {
    state: State,
    backoff: Backoff,
    token: CancellationToken,
    primed: Primed,
    producers: Vec<&'static str>,
}

async fn run(mut c: Box<dyn Controller>, t: Task) {
    let Task {
        state,
        backoff,
        token,
        primed,
        producers,
    } = t;
    let name = c.name();
    tokio::select! {
        _ = token.cancelled() => return,
        _ = primed.wait_for(&producers) => {}
    }
    let waker = Waker::default();
    let mut inputs = futures::stream::select_all(c.inputs().into_iter().map(|i| {
        let watch = state.watch(i.namespace, i.type_);
        futures::stream::unfold(watch, |mut w| async move { w.next().await.map(|e| (e, w)) })
            .boxed()
    }));
    let mut ctx = Ctx::new(state, name, c.outputs());
    let mut delay = backoff.initial;
    let mut started = false;
    let mut primed_self = false;
    waker.wake();

    loop {
        let requeue = ctx.requeue.take();
        tokio::select! {
            _ = token.cancelled() => break,
            _ = waker.woken() => {}
            Some(_) = inputs.next() => {}
            _ = sleep_opt(requeue) => {}
        }
        // Coalesce: everything already queued is covered by this reconcile.
        while let Some(Some(_)) = inputs.next().now_or_never() {}
        let span = tracing::info_span!("reconcile", controller = name);
        let result = AssertUnwindSafe(
            async {
                if !started {
                    c.start(waker.clone()).await?;
                    started = true;
                }
                c.reconcile(&mut ctx).await
            }
            .instrument(span),
        )
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| Err(ControllerError::Panicked(panic_message(&panic))));
        if started && !std::mem::replace(&mut primed_self, true) {
            primed.mark(name);
        }
        match result {
            Ok(()) => delay = backoff.initial,
            Err(e) => {
                tracing::warn!(controller = name, error = %machined_resources::error::chain(&e), retry_in_ms = delay.as_millis() as u64, "reconcile failed");
                machined_telemetry::metrics::get().reconcile_failed(name);
                ctx.requeue = None;
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(backoff.max);
                waker.wake();
            }
        }
    }

    drop(inputs);
    if started {
        let span = tracing::info_span!("shutdown", controller = name);
        if let Err(e) = c.shutdown(&mut ctx).instrument(span).await {
            tracing::warn!(controller = name, error = %machined_resources::error::chain(&e), "shutdown failed");
        }
    }
    tracing::debug!(controller = name, "stopped");
}

async fn sleep_opt(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    let msg = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("panicked: {msg}")
}
