//! MachineService: apply config, version.

use crate::store::NodeStore;
use machined_proto as pb;
use machined_resources::config;
use machined_resources::config::MachineType;
use machined_resources::types::{EtcdBootstrap, EtcdPhase, EtcdStatus, MachineConfigSpec};
use machined_resources::State;
use tonic::{Request, Response, Status};

/// Owner of the MachineConfig resource.
pub const CONFIG_OWNER: &str = "machined.api";

/// Configs parsed at once, node-wide.
pub(crate) static PARSES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

#[derive(Clone)]
pub struct MachineApi {
    pub(crate) state: State,
    pub(crate) store: NodeStore,
    pub(crate) node: String,
    /// Serialises applies: validate, persist and publish as one step.
    pub(crate) apply_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Applies so far: a pending try rollback yields to a later apply.
    pub(crate) applies: crate::apply_mode::Generation,
    /// Where reboot and shutdown requests go.
    power: crate::power::PowerSwitch,
    /// What may refuse them first.
    guard: Option<std::sync::Arc<dyn crate::power::DownGuard>>,
}

impl MachineApi {
    pub fn new(state: State, store: NodeStore, node: String) -> Self {
        MachineApi {
            state,
            store,
            node,
            apply_lock: Default::default(),
            applies: Default::default(),
            power: Default::default(),
            guard: None,
        }
    }

    /// Asks `g` before every reboot or shutdown.
    pub fn with_guard(mut self, g: std::sync::Arc<dyn crate::power::DownGuard>) -> Self {
        self.guard = Some(g);
        self
    }

    async fn may_go_down(&self, force: bool) -> Result<(), Status> {
        match &self.guard {
            Some(g) => g.check(force).await,
            None => Ok(()),
        }
    }

    /// Sends reboot and shutdown requests to `power`.
    pub fn with_power(mut self, power: crate::power::PowerSwitch) -> Self {
        self.power = power;
        self
    }

    fn power(&self, a: crate::power::PowerAction) -> Result<String, Status> {
        if self.power.request(a) {
            tracing::info!(action = ?a, "power request accepted");
            Ok(self.node.clone())
        } else {
            Err(Status::unavailable("this machined takes no power requests"))
        }
    }

    /// Publishes a validated config into the state.
    pub fn publish(state: &State, parsed: config::Parsed, raw: &str) -> Result<(), Status> {
        let spec = MachineConfigSpec {
            config: parsed.config,
            raw: raw.to_string(),
        };
        state
            .put(CONFIG_OWNER, MachineConfigSpec::ID, &spec)
            .map(|_| ())
            .map_err(|e| Status::internal(format!("storing config: {e}")))
    }
}

#[tonic::async_trait]
impl pb::machine_service_server::MachineService for MachineApi {
    async fn apply_configuration(
        &self,
        req: Request<pb::ApplyConfigurationRequest>,
    ) -> Result<Response<pb::ApplyConfigurationResponse>, Status> {
        crate::auth::check(&req, &self.state, crate::auth::Need::Maintenance)?;
        let dry_run = req.get_ref().dry_run;
        let r = self.apply(req.into_inner()).await;
        crate::apply::report(&r, dry_run);
        r
    }

    async fn reboot(
        &self,
        req: Request<pb::RebootRequest>,
    ) -> Result<Response<pb::RebootResponse>, Status> {
        crate::auth::check(&req, &self.state, crate::auth::Need::Admin)?;
        self.may_go_down(req.get_ref().force).await?;
        let node = self.power(crate::power::PowerAction::Reboot)?;
        Ok(Response::new(pb::RebootResponse { node }))
    }

    async fn shutdown(
        &self,
        req: Request<pb::ShutdownRequest>,
    ) -> Result<Response<pb::ShutdownResponse>, Status> {
        crate::auth::check(&req, &self.state, crate::auth::Need::Admin)?;
        self.may_go_down(req.get_ref().force).await?;
        let node = self.power(crate::power::PowerAction::PowerOff)?;
        Ok(Response::new(pb::ShutdownResponse { node }))
    }

    async fn bootstrap(
        &self,
        req: Request<pb::BootstrapRequest>,
    ) -> Result<Response<pb::BootstrapResponse>, Status> {
        crate::auth::check(&req, &self.state, crate::auth::Need::Admin)?;
        let _guard = self.apply_lock.lock().await;
        may_bootstrap(&self.state, &self.store)?;
        self.store
            .mark_bootstrapped()
            .map_err(|e| Status::internal(format!("persisting bootstrap: {e}")))?;
        self.state
            .put(
                CONFIG_OWNER,
                EtcdBootstrap::ID,
                &EtcdBootstrap { requested: true },
            )
            .map_err(|e| Status::internal(e.to_string()))?;
        tracing::info!("bootstrap accepted");
        Ok(Response::new(pb::BootstrapResponse {
            node: self.node.clone(),
        }))
    }

    async fn generate_client_configuration(
        &self,
        req: Request<pb::GenerateClientConfigurationRequest>,
    ) -> Result<Response<pb::GenerateClientConfigurationResponse>, Status> {
        crate::auth::check(&req, &self.state, crate::auth::Need::Admin)?;
        let req = req.into_inner();
        if req.roles.is_empty() || req.roles.len() > 2 {
            return Err(Status::invalid_argument(
                "roles: give one or two of os:admin, os:reader",
            ));
        }
        if let Some(bad) = req
            .roles
            .iter()
            .find(|r| !machined_pki::ROLES.contains(&r.as_str()))
        {
            return Err(Status::invalid_argument(format!(
                "roles: unknown role {bad:?} (known: os:admin, os:reader)"
            )));
        }
        let days = if req.days == 0 {
            365
        } else {
            req.days.min(3650)
        };
        let issuer = self
            .state
            .get_typed::<MachineConfigSpec>(MachineConfigSpec::ID)
            .ok()
            .flatten()
            .and_then(|c| c.spec.config.machine_ca)
            .and_then(|c| c.issuer())
            .ok_or_else(|| {
                Status::failed_precondition("no machine CA key in this node's config")
            })?;

        let leaf = issuer
            .issue(&machined_pki::Leaf {
                common_name: req.roles.join(","),
                orgs: req.roles.clone(),
                client: true,
                days,
                ..Default::default()
            })
            .map_err(|e| Status::internal(e.to_string()))?;
        tracing::info!(roles = ?req.roles, days, "issued a client certificate");
        Ok(Response::new(pb::GenerateClientConfigurationResponse {
            ca: issuer.cert_pem,
            crt: leaf.cert_pem,
            key: leaf.key_pem,
        }))
    }

    async fn version(
        &self,
        req: Request<pb::VersionRequest>,
    ) -> Result<Response<pb::VersionResponse>, Status> {
        if crate::auth::configured(&self.state) {
            crate::auth::check(&req, &self.state, crate::auth::Need::Read)?;
        }
        Ok(Response::new(pb::VersionResponse {
            tag: env!("CARGO_PKG_VERSION").to_string(),
            node: self.node.clone(),
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
            configured: crate::auth::configured(&self.state),
            instance: instance().to_string(),
            sha: machined_telemetry::metrics::build().commit.to_string(),
            built: machined_telemetry::metrics::build().date.to_string(),
        }))
    }
}

/// This machined process's identity: the kernel's random UUID read once.
fn instance() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/uuid")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| {
                format!("{}-{:?}", std::process::id(), std::time::SystemTime::now())
            })
    })
}

/// Whether this node may start a new etcd cluster (`bootstrap`, or a
/// recovery from a snapshot): a control plane with a config, running its
/// own etcd, never bootstrapped nor a member, and waiting for bootstrap.
pub fn may_bootstrap(state: &State, store: &NodeStore) -> Result<(), Status> {
    let cfg = state
        .get_typed::<MachineConfigSpec>(MachineConfigSpec::ID)
        .ok()
        .flatten()
        .ok_or_else(|| {
            Status::failed_precondition(
                "no machine config applied yet: apply one first (mctl apply-config)",
            )
        })?;
    let c = &cfg.spec.config;
    if c.machine_type == MachineType::Worker {
        return Err(Status::failed_precondition(
            "this node is a worker: bootstrap a control-plane node",
        ));
    }
    if !c.cluster.etcd.external_endpoints.is_empty() {
        return Err(Status::failed_precondition(
            "etcd is external (cluster.etcd.externalEndpoints): there is nothing to bootstrap",
        ));
    }
    if store.bootstrap_requested() {
        return Err(Status::already_exists(
            "etcd on this node is already bootstrapped",
        ));
    }
    if store.bootstrapped() {
        return Err(Status::already_exists(
            "this node is already a member of an etcd cluster: the cluster is bootstrapped",
        ));
    }
    let phase = state
        .get_typed::<EtcdStatus>(EtcdStatus::ID)
        .ok()
        .flatten()
        .map(|s| (s.spec.phase, s.spec.last_error));
    match phase {
        Some((EtcdPhase::WaitingForBootstrap, _)) => {}
        Some((
            p @ (EtcdPhase::Running
            | EtcdPhase::Joining
            | EtcdPhase::Starting
            | EtcdPhase::Unhealthy),
            _,
        )) => {
            return Err(Status::already_exists(format!(
                "the cluster is already bootstrapped: this node's etcd is {}",
                p.as_str()
            )));
        }
        Some((_, err)) => {
            return Err(Status::unavailable(format!(
                "etcd is not ready to bootstrap yet: {err}"
            )));
        }
        None => {
            return Err(Status::unavailable(
                "etcd is not ready to bootstrap yet: no status",
            ))
        }
    }
    Ok(())
}
