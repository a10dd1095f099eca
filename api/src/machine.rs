//! MachineService: apply config, version.

use crate::store::NodeStore;
use machined_resources::config;
use machined_resources::config::MachineType;
use machined_resources::types::{EtcdPhase, EtcdStatus, MachineConfigSpec};
use machined_resources::State;
use tonic::Status;

use crate::store::CONFIG_OWNER;

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

    pub(crate) async fn may_go_down(&self, force: bool) -> Result<(), Status> {
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

    pub(crate) fn power(&self, a: crate::power::PowerAction) -> Result<String, Status> {
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
