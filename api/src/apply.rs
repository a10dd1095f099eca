//! Applying a config: size and parse limits, the lock-out check, the
//! apply modes, and the event each apply leaves.

use crate::machine::{MachineApi, PARSES};
use machined_proto as pb;
use machined_resources::config;
use machined_resources::types::MachineConfigSpec;
use tonic::{Response, Status};

impl MachineApi {
    /// Validates and applies (or only checks, on a dry run) a config.
    pub(crate) async fn apply(
        &self,
        req: pb::ApplyConfigurationRequest,
    ) -> Result<Response<pb::ApplyConfigurationResponse>, Status> {
        if req.data.len() > config::limits::MAX_CONFIG_BYTES {
            return Err(Status::invalid_argument(format!(
                "config: is {} bytes; at most {} are accepted",
                req.data.len(),
                config::limits::MAX_CONFIG_BYTES
            )));
        }
        let text = String::from_utf8(req.data)
            .map_err(|_| Status::invalid_argument("config: not valid UTF-8"))?;
        // Parsing is CPU work: off the async workers (the VIP's timers run
        // there), and a few at a time.
        let _parse_turn = PARSES
            .acquire()
            .await
            .map_err(|_| Status::unavailable("shutting down"))?;
        let t = text.clone();
        let parsed = tokio::task::spawn_blocking(move || config::parse(&t))
            .await
            .map_err(|e| Status::internal(format!("config parser failed: {e}")))?
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        drop(_parse_turn);
        let locked = config::limits::lockout(&parsed.config);
        if !locked.is_empty() {
            let why: Vec<String> = locked.iter().map(|e| e.to_string()).collect();
            return Err(Status::failed_precondition(format!(
                "refused, nothing changed: {}",
                why.join("; ")
            )));
        }
        let mode = pb::ApplyMode::try_from(req.mode)
            .map_err(|_| Status::invalid_argument(format!("mode: {} is not a mode", req.mode)))?;
        let warnings = parsed.warnings.clone();
        let _guard = self.apply_lock.lock().await;
        let current = self
            .state
            .get_typed::<MachineConfigSpec>(MachineConfigSpec::ID)
            .ok()
            .flatten()
            .map(|c| c.spec.raw);
        let unchanged = current.as_deref() == Some(text.as_str());
        let diff = crate::apply_mode::diff(current.as_deref().unwrap_or_default(), &text);
        let persist = |text: &str| {
            self.store.save(text).map_err(|e| {
                Status::internal(format!(
                    "persisting config to {}: {e}",
                    self.store.path().display()
                ))
            })
        };
        let mut applied_live = false;
        if !req.dry_run {
            let mine = self.applies.bump();
            match mode {
                pb::ApplyMode::Auto | pb::ApplyMode::NoReboot => {
                    persist(&text)?;
                    if !unchanged {
                        Self::publish(&self.state, parsed, &text)?;
                    }
                    applied_live = true;
                }
                pb::ApplyMode::Staged => persist(&text)?,
                pb::ApplyMode::Try => {
                    let secs = match req.try_timeout_secs {
                        0 => 60,
                        s => s.min(24 * 3600),
                    };
                    Self::publish(&self.state, parsed, &text)?;
                    crate::apply_mode::schedule_rollback(
                        self.state.clone(),
                        self.store.clone(),
                        self.apply_lock.clone(),
                        self.applies.clone(),
                        mine,
                        std::time::Duration::from_secs(u64::from(secs)),
                    );
                    applied_live = true;
                }
            }
            tracing::info!(
                warnings = warnings.len(),
                mode = mode.as_str_name(),
                "config applied"
            );
        }
        Ok(Response::new(pb::ApplyConfigurationResponse {
            warnings,
            applied_live,
            unchanged,
            node: self.node.clone(),
            diff,
            mode: mode.into(),
        }))
    }
}

/// An apply as an event: applied, or refused for what the config says
/// (not for who asked).
pub(crate) fn report(r: &Result<Response<pb::ApplyConfigurationResponse>, Status>, dry_run: bool) {
    use machined_telemetry::{emit, Kind};
    const SOURCE: &str = "machined.api";
    match r {
        Ok(resp) if !dry_run => {
            let a = resp.get_ref();
            let mode = pb::ApplyMode::try_from(a.mode)
                .unwrap_or_default()
                .as_str_name();
            let what = if a.unchanged { "unchanged" } else { "changed" };
            emit(
                Kind::ConfigApplied,
                SOURCE,
                &format!(
                    "config applied ({what}, mode {mode}, {} warning(s))",
                    a.warnings.len()
                ),
                &[("mode", mode), ("unchanged", &a.unchanged.to_string())],
            );
        }
        Err(st)
            if matches!(
                st.code(),
                tonic::Code::InvalidArgument | tonic::Code::FailedPrecondition
            ) =>
        {
            emit(
                Kind::ConfigRefused,
                SOURCE,
                &format!("config refused: {}", st.message()),
                &[],
            );
        }
        _ => {}
    }
}
