//! Runs and supervises the etcd process on control planes: waits for
//! bootstrap, starts a new cluster or joins a running one, restarts etcd
//! with backoff when it dies, checks health every second and reports it
//! all in `EtcdStatus`.

use super::args::{etcd_args, PkiFiles, StartMode};
use super::client::{self, hex, Health, Tls};
use crate::{Controller, ControllerError, Ctx, Input, Output, Waker};
use async_trait::async_trait;
use etcd_client::Client;
use machined_resources::types::{
    EtcdBootstrap, EtcdCerts, EtcdLeft, EtcdMember, EtcdPhase, EtcdSpec, EtcdStatus,
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::watch;

const HEALTH_EVERY: Duration = Duration::from_secs(1);
const JOIN_RETRY: Duration = Duration::from_secs(2);
const STOP_GRACE: Duration = Duration::from_secs(10);

struct EtcdProc {
    pid: u32,
    /// Set to the exit description when the process ends.
    exited: watch::Receiver<Option<String>>,
    ip: IpAddr,
    spec: EtcdSpec,
}

pub struct EtcdServiceController {
    state_dir: PathBuf,
    binary: PathBuf,
    waker: Waker,
    proc: Option<EtcdProc>,
    client: Option<(Vec<String>, Client)>,
    restarts: u32,
    next_start: Option<Instant>,
    last_error: String,
    /// This member's id once known; stable for the data directory.
    member_id: u64,
    /// Health checks failed in a row (the process still running).
    failed_checks: u32,
    /// The certificates last written for etcd (no disk traffic per check).
    written: Option<EtcdCerts>,
    /// The last leader seen (kept across phases without one), for events.
    last_leader: std::sync::Mutex<String>,
    /// The members as the last healthy check listed them.
    members: Vec<EtcdMember>,
}

/// A running member is reported unhealthy after this many failed checks in
/// a row: one check can fail during an etcd leader change, and the VIP must
/// not move for that. A member whose process died is reported at once.
const FAILED_CHECKS_TO_UNHEALTHY: u32 = 2;

impl EtcdServiceController {
    pub fn new(state_dir: PathBuf, binary: PathBuf) -> Self {
        EtcdServiceController {
            state_dir,
            binary,
            waker: Waker::default(),
            proc: None,
            client: None,
            restarts: 0,
            next_start: None,
            last_error: String::new(),
            member_id: 0,
            failed_checks: 0,
            written: None,
            last_leader: Default::default(),
            members: Vec::new(),
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.state_dir.join("etcd").join("data")
    }

    fn pki(&self) -> PkiFiles {
        PkiFiles::in_dir(&self.state_dir.join("etcd").join("pki"))
    }

    fn put_status(
        &self,
        ctx: &Ctx,
        phase: EtcdPhase,
        h: Option<&Health>,
        external: bool,
    ) -> Result<(), ControllerError> {
        let mut st = EtcdStatus {
            phase,
            external,
            restarts: self.restarts,
            last_error: self.last_error.clone(),
            last_members: self.members.clone(),
            ..Default::default()
        };
        if !external && self.member_id != 0 {
            st.member_id = hex(self.member_id);
        }
        if let Some(h) = h {
            st.leader = hex(h.leader);
            st.leader_name = h
                .members
                .iter()
                .find(|m| m.id == st.leader)
                .map(|m| m.name.clone())
                .unwrap_or_default();
            st.members = h.members.clone();
        }
        super::etcd_report::report(&self.last_leader, ctx, &st)?;
        ctx.put(EtcdStatus::ID, &st)
    }

    /// Notices a dead etcd: schedules a restart with exponential backoff.
    fn reap(&mut self) {
        let Some(p) = &self.proc else { return };
        let Some(how) = p.exited.borrow().clone() else {
            return;
        };
        self.restarts += 1;
        let delay = Duration::from_millis(500) * 2u32.saturating_pow(self.restarts.min(6) - 1);
        self.last_error = format!("etcd {how}; restarting in {delay:?}");
        tracing::warn!(pid = p.pid, %how, restart_in_ms = delay.as_millis() as u64, "etcd died");
        self.next_start = Some(Instant::now() + delay);
        self.proc = None;
        self.client = None;
    }

    async fn stop(&mut self) {
        self.client = None;
        let Some(mut p) = self.proc.take() else {
            return;
        };
        tracing::info!(pid = p.pid, "stopping etcd");
        let pid = Pid::from_raw(p.pid as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let exited = tokio::time::timeout(STOP_GRACE, p.exited.wait_for(Option::is_some))
            .await
            .is_ok();
        if !exited {
            tracing::warn!(pid = p.pid, "etcd ignored SIGTERM; killing");
            let _ = kill(pid, Signal::SIGKILL);
            let _ = tokio::time::timeout(STOP_GRACE, p.exited.wait_for(Option::is_some)).await;
        }
    }

    fn start(
        &mut self,
        spec: &EtcdSpec,
        ip: IpAddr,
        mode: &StartMode,
    ) -> Result<(), ControllerError> {
        let dir = self.state_dir.join("etcd");
        std::fs::create_dir_all(&dir).map_err(ControllerError::io("creating", &dir))?;
        let log_path = dir.join("etcd.log");
        let (read, write) =
            super::output::pipe().map_err(ControllerError::io("creating a pipe for", &log_path))?;
        let write2 = write
            .try_clone()
            .map_err(ControllerError::io("duplicating a pipe for", &log_path))?;
        let args = etcd_args(spec, ip, &self.data_dir(), &self.pki(), mode);
        let mut cmd = tokio::process::Command::new(&self.binary);
        cmd.args(&args)
            // Under systemd the readiness is machined's to tell, not etcd's.
            .env_remove("NOTIFY_SOCKET")
            .stdin(std::process::Stdio::null())
            .stdout(write)
            .stderr(write2);
        // etcd dies with machined, even on SIGKILL: a machined restarted
        // later must not find an orphan holding the ports.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(ControllerError::io("starting", &self.binary))?;
        // Our copies of the write end went with `cmd`: the pipe closes when
        // etcd exits.
        drop(cmd);
        super::output::capture(read, &log_path)
            .map_err(ControllerError::io("reading the output of", &self.binary))?;
        let pid = child.id().unwrap_or_default();
        tracing::info!(pid, ?mode, "etcd started");
        let (tx, rx) = watch::channel(None);
        let waker = self.waker.clone();
        let reaper = async move {
            let how = match child.wait().await {
                Ok(st) => format!("exited: {st}"),
                Err(e) => format!("wait failed: {}", machined_resources::error::chain(&e)),
            };
            tracing::debug!(%how, "etcd reaped");
            let _ = tx.send(Some(how));
            waker.wake();
        };
        tokio::spawn(tracing::Instrument::instrument(
            reaper,
            tracing::info_span!("etcd-reaper", pid),
        ));
        self.proc = Some(EtcdProc {
            pid,
            exited: rx,
            ip,
            spec: spec.clone(),
        });
        Ok(())
    }

    async fn check(
        &mut self,
        endpoints: Vec<String>,
        tls: Option<&Tls>,
    ) -> Result<Health, client::EtcdError> {
        if self.client.as_ref().is_none_or(|(e, _)| *e != endpoints) {
            let c = client::connect(&endpoints, tls).await?;
            self.client = Some((endpoints.clone(), c));
        }
        let (eps, c) = self.client.as_mut().expect("client set above");
        let r = client::health(c, eps).await;
        if r.is_err() {
            self.client = None;
        }
        r
    }

    async fn external(
        &mut self,
        ctx: &mut Ctx,
        spec: &EtcdSpec,
        tls: Option<&Tls>,
    ) -> Result<(), ControllerError> {
        ctx.requeue_after(HEALTH_EVERY);
        match self.check(spec.external_endpoints.clone(), tls).await {
            Ok(h) => {
                self.last_error.clear();
                self.put_status(ctx, EtcdPhase::Running, Some(&h), true)
            }
            Err(e) => {
                self.last_error = machined_resources::error::chain(&e).to_string();
                self.put_status(ctx, EtcdPhase::Unhealthy, None, true)
            }
        }
    }
}

#[async_trait]
impl Controller for EtcdServiceController {
    fn name(&self) -> &'static str {
        "etcd.ServiceController"
    }

    fn inputs(&self) -> Vec<Input> {
        vec![
            Input::of::<EtcdSpec>(),
            Input::of::<EtcdBootstrap>(),
            Input::of::<EtcdCerts>(),
            Input::of::<EtcdLeft>(),
        ]
    }

    fn outputs(&self) -> Vec<Output> {
        vec![Output::exclusive::<EtcdStatus>()]
    }

    async fn start(&mut self, waker: Waker) -> Result<(), ControllerError> {
        self.waker = waker;
        Ok(())
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let Some(spec) = ctx.get::<EtcdSpec>(EtcdSpec::ID)?.map(|s| s.spec) else {
            self.stop().await;
            return ctx.destroy::<EtcdStatus>(EtcdStatus::ID);
        };
        let certs = ctx
            .get::<EtcdCerts>(EtcdCerts::ID)?
            .map(|c| c.spec)
            .filter(|_| spec.tls);
        if spec.tls && certs.is_none() {
            self.last_error = "waiting for etcd certificates".into();
            return self.put_status(
                ctx,
                EtcdPhase::Stopped,
                None,
                !spec.external_endpoints.is_empty(),
            );
        }
        let tls = certs.as_ref().map(Tls::client);
        if !spec.external_endpoints.is_empty() {
            self.stop().await;
            return self.external(ctx, &spec, tls.as_ref()).await;
        }
        if let Some(c) = certs.as_ref().filter(|c| self.written.as_ref() != Some(*c)) {
            self.pki().write(c)?;
            self.written = Some(c.clone());
        }
        if ctx.get::<EtcdLeft>(EtcdLeft::ID)?.is_some() {
            // Left the cluster: nothing runs, nothing of the old member stays.
            self.stop().await;
            self.member_id = 0;
            super::leave::forget_data(&self.data_dir())?;
            self.last_error =
                "left the cluster (mctl etcd leave; mctl etcd join to come back)".into();
            return self.put_status(ctx, EtcdPhase::Stopped, None, false);
        }
        self.reap();
        // Restart on a change that matters (name, address, flags). A member
        // whose address moved (a new DHCP lease) is re-advertised first, or
        // keeps running as it was, saying why.
        if let Some(p) = &self.proc {
            let old_ip = p.ip;
            let moved = spec.advertise_ip.filter(|ip| *ip != old_ip);
            let changed =
                p.spec.name != spec.name || p.spec.extra_args != spec.extra_args || moved.is_some();
            if let Some(new_ip) = moved.filter(|_| self.member_id != 0) {
                let r = super::join::readvertise(
                    &spec,
                    self.member_id,
                    new_ip,
                    &self.members,
                    tls.as_ref(),
                )
                .await;
                if let Err(e) = r {
                    self.last_error = format!(
                        "the node address moved from {old_ip} to {new_ip} and this member's peer URL could not follow ({}); etcd runs on as it was, retrying", machined_resources::error::chain(&e)
                    );
                    tracing::warn!(%old_ip, %new_ip, error = %machined_resources::error::chain(&e), "etcd re-advertise failed");
                    ctx.requeue_after(JOIN_RETRY);
                    return self.put_status(ctx, EtcdPhase::Unhealthy, None, false);
                }
                tracing::info!(%old_ip, %new_ip, "etcd member re-advertised");
            }
            if changed {
                tracing::info!("etcd spec changed; restarting etcd");
                self.stop().await;
            }
        }
        if self.proc.is_none() {
            if let Some(t) = self.next_start.filter(|t| *t > Instant::now()) {
                ctx.requeue_after(t - Instant::now());
                return self.put_status(ctx, EtcdPhase::Unhealthy, None, false);
            }
            let Some(ip) = spec.advertise_ip else {
                self.last_error = "no node address to advertise yet".into();
                return self.put_status(ctx, EtcdPhase::Stopped, None, false);
            };
            let bootstrapped = ctx
                .get::<EtcdBootstrap>(EtcdBootstrap::ID)?
                .is_some_and(|b| b.spec.requested);
            let mode = if self.data_dir().join("member").is_dir() {
                StartMode::Restart
            } else if bootstrapped {
                StartMode::New
            } else {
                // Still waiting for bootstrap while looking for a member.
                match super::join::join(&spec, ip, tls.as_ref()).await {
                    Ok(Some(initial_cluster)) => StartMode::Join { initial_cluster },
                    Ok(None) => {
                        self.last_error =
                            format!("no running member at {}", spec.join_endpoints.join(", "));
                        ctx.requeue_after(JOIN_RETRY);
                        return self.put_status(ctx, EtcdPhase::WaitingForBootstrap, None, false);
                    }
                    Err(e) => {
                        self.last_error =
                            format!("joining: {}", machined_resources::error::chain(&e));
                        ctx.requeue_after(JOIN_RETRY);
                        return self.put_status(ctx, EtcdPhase::Joining, None, false);
                    }
                }
            };
            self.start(&spec, ip, &mode)?;
            self.next_start = None;
            self.put_status(ctx, EtcdPhase::Starting, None, false)?;
        }
        ctx.requeue_after(HEALTH_EVERY);
        if self.proc.is_none() {
            return Ok(());
        }
        let was_running = ctx
            .get::<EtcdStatus>(EtcdStatus::ID)?
            .is_some_and(|s| s.spec.is_running());
        match self
            .check(vec![spec.local_client_url()], tls.as_ref())
            .await
        {
            Ok(h) => {
                self.last_error.clear();
                self.failed_checks = 0;
                self.member_id = h.member_id;
                self.members = h.members.clone();
                self.put_status(ctx, EtcdPhase::Running, Some(&h), false)
            }
            Err(e) => {
                self.last_error = machined_resources::error::chain(&e).to_string();
                self.failed_checks += 1;
                if was_running && self.failed_checks < FAILED_CHECKS_TO_UNHEALTHY {
                    tracing::info!(error = %machined_resources::error::chain(&e), "etcd health check failed once; checking again");
                    return Ok(());
                }
                let phase = if was_running {
                    EtcdPhase::Unhealthy
                } else {
                    EtcdPhase::Starting
                };
                let phase = ctx
                    .get::<EtcdStatus>(EtcdStatus::ID)?
                    .filter(|s| s.spec.phase == EtcdPhase::Unhealthy)
                    .map_or(phase, |_| EtcdPhase::Unhealthy);
                self.put_status(ctx, phase, None, false)
            }
        }
    }

    async fn shutdown(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        self.stop().await;
        self.last_error.clear();
        self.put_status(ctx, EtcdPhase::Stopped, None, false)
    }
}
