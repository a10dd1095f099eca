//! The MachineService itself: apply (with the event each apply leaves),
//! reboot and shutdown (behind the quorum guard), bootstrap, version. The
//! API's state and helpers are in `machine.rs`, applying in `apply.rs`.

use crate::machine::{may_bootstrap, MachineApi};
use crate::store::CONFIG_OWNER;
use machined_proto as pb;
use machined_resources::types::{EtcdBootstrap, MachineConfigSpec};
use tonic::{Request, Response, Status};

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
