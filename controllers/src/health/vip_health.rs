//! The health controller: for each VIP with a `healthCheck`, a task that
//! runs the check every interval and keeps its rise/fall state; outputs
//! `VIPHealthStatus`. A changed check restarts its task (state from
//! scratch); a task that panics is started again by the runtime's runner
//! set, its state kept. The VIP itself is not touched here.

use super::probe::Target;
use super::tracker::{State, Tracker};
use crate::runtime::operator::Runners;
use crate::{Controller, ControllerError, Ctx, Input, Output, Waker};
use async_trait::async_trait;
use machined_resources::config::HealthCheck;
use machined_resources::types::{VipHealthStatus, VipSpec};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// What a task last saw.
#[derive(Debug, Clone)]
struct Snapshot {
    tracker: Tracker,
    last_result: String,
    last_check: Option<SystemTime>,
}

/// How the controller reads a check's task; kept across restarts.
struct Handle {
    out: Arc<Mutex<Snapshot>>,
    waker: Waker,
}

pub struct VipHealthController {
    waker: Waker,
    running: Runners<String, HealthCheck, Handle>,
}

impl Default for VipHealthController {
    fn default() -> Self {
        VipHealthController {
            waker: Waker::default(),
            running: Runners::new(
                "vip-health",
                Box::new(|ip: &String, check: &HealthCheck, h: &Handle, _| {
                    use futures::FutureExt;
                    use tracing::Instrument;
                    let span = tracing::info_span!("vip-health", vip = %ip, check = %check.probe);
                    run(ip.clone(), check.clone(), h.out.clone(), h.waker.clone())
                        .instrument(span)
                        .boxed()
                }),
            ),
        }
    }
}

fn lock(m: &Mutex<Snapshot>) -> std::sync::MutexGuard<'_, Snapshot> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A changed verdict, as an event.
fn report(ip: &str, check: &HealthCheck, state: State, was: State, result: &str) {
    use machined_telemetry::{emit, Kind};
    emit(
        Kind::HealthCheckChanged,
        "network.VIPHealthController",
        &format!(
            "{} check of {ip}: {} -> {} ({result})",
            check.probe,
            was.as_str(),
            state.as_str()
        ),
        &[
            ("vip", ip),
            ("state", state.as_str()),
            ("was", was.as_str()),
        ],
    );
}

/// Checks every interval until aborted (a check that cannot run says so
/// and waits: starting it again would not help).
async fn run(ip: String, check: HealthCheck, out: Arc<Mutex<Snapshot>>, waker: Waker) {
    let target = match Target::new(&check.probe) {
        Ok(t) => t,
        Err(why) => {
            // The config parser refuses what Target cannot take; say so
            // anyway rather than count it healthy.
            tracing::warn!(error = %why, "health check cannot run");
            lock(&out).last_result = why;
            waker.wake();
            return std::future::pending().await;
        }
    };
    let timeout = Duration::from_millis(check.timeout_ms);
    let mut tick = tokio::time::interval(Duration::from_millis(check.interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let r = target.check(timeout).await;
        let mut s = lock(&out);
        let before = s.tracker.state;
        if s.tracker.record(r.ok) {
            let state = s.tracker.state.as_str();
            if s.tracker.state == State::Failing {
                tracing::warn!(state, was = before.as_str(), result = %r.detail, "health check changed state");
            } else {
                tracing::info!(state, was = before.as_str(), result = %r.detail, "health check changed state");
            }
            report(&ip, &check, s.tracker.state, before, &r.detail);
        }
        s.last_result = r.detail;
        s.last_check = Some(SystemTime::now());
        drop(s);
        waker.wake();
    }
}

impl VipHealthController {
    fn handle(waker: &Waker, check: &HealthCheck) -> Handle {
        Handle {
            out: Arc::new(Mutex::new(Snapshot {
                tracker: Tracker::new(check.rise, check.fall),
                last_result: String::new(),
                last_check: None,
            })),
            waker: waker.clone(),
        }
    }
}

fn status(ip: &str, check: &HealthCheck, s: &Snapshot) -> VipHealthStatus {
    VipHealthStatus {
        ip: ip.to_string(),
        check: check.probe.to_string(),
        state: s.tracker.state,
        healthy: s.tracker.state == State::Healthy,
        last_result: s.last_result.clone(),
        last_check: s.last_check.map(Into::into),
        streak: s.tracker.streak,
        since: s.tracker.since.into(),
        changes: s.tracker.changes,
        hold_down_ms: check.hold_down_ms,
    }
}

#[async_trait]
impl Controller for VipHealthController {
    fn name(&self) -> &'static str {
        "network.VIPHealthController"
    }

    fn inputs(&self) -> Vec<Input> {
        vec![Input::of::<VipSpec>()]
    }

    fn outputs(&self) -> Vec<Output> {
        vec![Output::exclusive::<VipHealthStatus>()]
    }

    async fn start(&mut self, waker: Waker) -> Result<(), ControllerError> {
        self.running.set_waker(waker.clone());
        self.waker = waker;
        Ok(())
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let wanted: HashMap<String, HealthCheck> = ctx
            .list::<VipSpec>()?
            .into_iter()
            .filter_map(|s| {
                let check = s.spec.options.health_check?;
                Some((s.spec.ip.to_string(), check))
            })
            .collect();
        for (_, r) in self.running.take_unwanted(|ip| wanted.contains_key(ip)) {
            r.abort();
        }
        for (ip, check) in &wanted {
            if !self.running.contains(ip) {
                tracing::info!(vip = %ip, check = %check.probe, "starting the health check");
            }
            let handle = || Self::handle(&self.waker, check);
            if let Some(old) = self.running.ensure(ip, check.clone(), handle) {
                old.abort();
            }
        }
        if let Some(after) = self.running.revive() {
            ctx.requeue_after(after);
        }
        let mut keep = HashSet::new();
        for (ip, r) in self.running.iter() {
            let snap = lock(&r.handle.out).clone();
            ctx.put(ip, &status(ip, &r.config, &snap))?;
            keep.insert(ip.clone());
        }
        ctx.retain::<VipHealthStatus>(&keep)
    }

    async fn shutdown(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        for (_, r) in self.running.take_all() {
            r.abort();
        }
        ctx.retain::<VipHealthStatus>(&HashSet::new())
    }
}
