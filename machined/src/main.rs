//! machined: starts the state, the controllers and the machine API; waits
//! for SIGTERM or SIGINT; stops the API, then the controllers in order; exits.

mod controllers;
mod lock;

use anyhow::{Context, Result};
use clap::Parser;
use machined_api::{machine, tls, MachineApi, NodeStore, ResourceApi};
use machined_proto::machine_service_server::MachineServiceServer;
use machined_proto::resource_service_server::ResourceServiceServer;
use machined_resources::types::{ApiCerts, EtcdBootstrap};
use machined_resources::{config, State};
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::signal::unix::{signal, SignalKind};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "The node daemon: resources, controllers and the machine API"
)]
struct Args {
    /// Where the applied config and other node state are kept.
    #[arg(long, default_value = "/var/lib/machined")]
    state_dir: PathBuf,
    /// Address of the machine API.
    #[arg(long, default_value = "0.0.0.0:50000")]
    listen: SocketAddr,
    /// A machine config to apply at start (validated; persisted like an apply).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The etcd binary (control planes run it); found on PATH by default.
    #[arg(long, default_value = "etcd")]
    etcd_binary: PathBuf,
    /// Log format.
    #[arg(long, value_parser = ["text", "json"], default_value = "text")]
    log_format: String,
}

fn init_logs(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        b.json().init();
    } else {
        b.init();
    }
}

/// The config to start with: `--config` if given (and persisted), else the
/// persisted one. An invalid `--config` is fatal; an invalid persisted one
/// (edited by hand?) leaves the node unconfigured, with an error logged.
fn initial_config(args: &Args, store: &NodeStore, state: &State) -> Result<()> {
    let (text, from_flag) = match &args.config {
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
            tracing::error!(error = %e, path = %store.path().display(), "persisted config is invalid; starting unconfigured");
            Ok(())
        }
    }
}

/// Keeps the API's TLS in line with `ApiCerts`: secured (mTLS) once the
/// node has its certificate, maintenance (self-signed, no client auth)
/// while it has none.
async fn track_tls(state: State, current: tls::Current) {
    let mut w = state.watch_typed::<ApiCerts>();
    while w.next().await.is_some() {
        let certs = state.get_typed::<ApiCerts>(ApiCerts::ID).ok().flatten();
        let cfg = match &certs {
            Some(c) => tls::secured(&c.spec),
            None => tls::maintenance(),
        };
        match cfg {
            Ok(cfg) => {
                current.set(cfg);
                tracing::info!(
                    mode = if certs.is_some() {
                        "mtls"
                    } else {
                        "maintenance"
                    },
                    "API TLS updated"
                );
            }
            Err(e) => tracing::error!(error = %e, "cannot build the API TLS config"),
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    init_logs(&args.log_format);
    std::fs::create_dir_all(&args.state_dir)
        .with_context(|| format!("creating state dir {}", args.state_dir.display()))?;
    let _lock = lock::take(&args.state_dir)?;

    let state = State::new();
    let store = NodeStore::new(&args.state_dir);
    initial_config(&args, &store, &state)?;
    if store.bootstrap_requested() {
        state.put(
            machine::CONFIG_OWNER,
            EtcdBootstrap::ID,
            &EtcdBootstrap { requested: true },
        )?;
    }

    // The API's port is taken before any controller runs: a second machined
    // in the same network namespace stops here, before touching the kernel.
    let node = machined_controllers::kernel::hostname();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let engine = controllers::engine(state.clone(), &args.state_dir, &args.etcd_binary)?.start();
    tracing::info!(listen = %args.listen, node = %node, "machine API up");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let current = tls::Current::new(tls::maintenance()?);
    tokio::spawn(track_tls(state.clone(), current.clone()));
    let server = tonic::transport::Server::builder()
        // Requests are small (a config is at most 1 MiB): refuse larger
        // messages before reading them.
        .add_service(
            MachineServiceServer::new(MachineApi::new(state.clone(), store, node.clone()))
                .max_decoding_message_size(2 << 20),
        )
        .add_service(
            ResourceServiceServer::new(ResourceApi::new(state.clone(), node))
                .max_decoding_message_size(64 << 10),
        )
        .serve_with_incoming_shutdown(tls::incoming(listener, current), async {
            let _ = stop_rx.await;
        });
    let server = tokio::spawn(server);

    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let sig = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    tracing::info!(signal = sig, "shutting down");
    // Controllers first: the VIP is released while etcd still runs, before
    // anything else; the API stays up meanwhile so the node can be watched.
    engine.shutdown().await;
    let _ = stop_tx.send(());
    // Streams (watches) may hold the server open: bound the drain.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(3), server).await;
    tracing::info!("stopped");
    Ok(())
}
