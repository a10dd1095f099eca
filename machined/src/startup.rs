//! What machined does before it serves: logs, the config it starts with,
//! and the state it restores from the state directory.

use anyhow::{Context, Result};
use machined_api::store::CONFIG_OWNER;
use machined_api::{MachineApi, NodeStore};
use machined_resources::types::{EtcdBootstrap, EtcdLeft};
use machined_resources::{config, State};
use std::path::Path;

/// Logs to stderr (text or JSON) and, as plain text, into the bounded
/// buffer `mctl logs machined` reads.
pub fn init_logs(format: &str, ansi: bool) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{fmt, EnvFilter};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ring = machined_telemetry::logs::ring("machined");
    let buffered = ring.map(|r| {
        fmt::layer()
            .with_ansi(false)
            .with_writer(move || machined_telemetry::logs::RingWriter::new(r))
    });
    let stderr = fmt::layer().with_ansi(ansi).with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter).with(buffered);
    if format == "json" {
        registry.with(stderr.json()).init();
    } else {
        registry.with(stderr).init();
    }
}

/// The config to start with: `--config` if given (and persisted), else the
/// persisted one. An invalid `--config` is fatal; an invalid persisted one
/// (edited by hand?) leaves the node unconfigured, with an error logged.
pub fn initial_config(flag: Option<&Path>, store: &NodeStore, state: &State) -> Result<()> {
    let (text, from_flag) = match flag {
        Some(p) => (
            std::fs::read_to_string(p)
                .with_context(|| format!("reading --config {}", p.display()))?,
            true,
        ),
        None => match store.load().context("reading persisted config")? {
            Some(t) => (t, false),
            None => return Ok(()),
        },
    };
    match config::parse(&text) {
        Ok(parsed) => {
            for w in &parsed.warnings {
                tracing::warn!(warning = %w, "config");
            }
            if from_flag {
                let locked = config::limits::lockout(&parsed.config);
                if !locked.is_empty() {
                    let why: Vec<String> = locked.iter().map(|e| e.to_string()).collect();
                    anyhow::bail!("--config would lock the node out: {}", why.join("; "));
                }
                store.save(&text).context("persisting config")?;
            }
            MachineApi::publish(state, parsed, &text)
                .map_err(|s| anyhow::anyhow!(s.message().to_string()))?;
            tracing::info!(from_flag, "config loaded");
            Ok(())
        }
        Err(e) if from_flag => Err(anyhow::anyhow!("{e}")),
        Err(e) => {
            tracing::error!(error = %machined_resources::error::chain(&e), path = %store.path().display(), "persisted config is invalid; starting unconfigured");
            Ok(())
        }
    }
}

/// A bootstrap accepted before a restart is still accepted.
pub fn restore_bootstrap(store: &NodeStore, state: &State) -> Result<()> {
    if let Some(since) = store.left_since() {
        state.put(
            CONFIG_OWNER,
            EtcdLeft::ID,
            &EtcdLeft {
                since: since.into(),
            },
        )?;
    }
    if store.bootstrap_requested() {
        state.put(
            CONFIG_OWNER,
            EtcdBootstrap::ID,
            &EtcdBootstrap { requested: true },
        )?;
    }
    Ok(())
}

/// Brings the loopback link up (the image's kernel leaves it down).
pub async fn loopback_up() {
    use machined_controllers::kernel::NetDriver;
    let r = match machined_controllers::kernel::Rtnl::new() {
        Ok(n) => n.set_link(1, true, None).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match r {
        Ok(()) => tracing::info!("lo up"),
        Err(e) => tracing::error!(error = %e, "bringing lo up"),
    }
}
