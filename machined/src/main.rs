//! machined: takes the state directory, starts the state, the controllers
//! and the machine API; waits for SIGTERM or SIGINT; stops the controllers
//! (the VIP is released first), drains the API; exits.

mod controllers;
mod lock;
mod serve;
mod startup;

use anyhow::{Context, Result};
use clap::Parser;
use machined_api::NodeStore;
use machined_resources::State;
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
    /// Set the kernel's hostname from the config or DHCP. For a machined in
    /// a UTS namespace of its own (the lab); as PID 1 it is always on.
    /// Refused when this process visibly shares PID 1's UTS namespace.
    #[arg(long)]
    set_hostname: bool,
    /// Log format.
    #[arg(long, value_parser = ["text", "json"], default_value = "text")]
    log_format: String,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> Result<()> {
    let args = Args::parse();
    startup::init_logs(&args.log_format);
    std::fs::create_dir_all(&args.state_dir)
        .with_context(|| format!("creating state dir {}", args.state_dir.display()))?;
    let _lock = lock::take(&args.state_dir)?;

    let state = State::new();
    let store = NodeStore::new(&args.state_dir);
    startup::initial_config(args.config.as_deref(), &store, &state)?;
    startup::restore_bootstrap(&store, &state)?;

    // The API's port is taken before any controller runs: a second machined
    // in the same network namespace stops here, before touching the kernel.
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let set_hostname = match machined_controllers::network::shares_init_uts_namespace() {
        Some(false) if std::process::id() == 1 => true,
        Some(true) if args.set_hostname => {
            tracing::warn!("--set-hostname refused: this process shares PID 1's UTS namespace");
            false
        }
        _ => args.set_hostname,
    };
    let engine = controllers::engine(
        state.clone(),
        &args.state_dir,
        &args.etcd_binary,
        set_hostname,
    )?
    .start();
    let node = machined_controllers::kernel::hostname();
    let api = serve::serve(listener, &state, store, node.clone())?;
    tracing::info!(listen = %args.listen, node = %node, "machine API up");

    let sig = wait_for_signal().await?;
    tracing::info!(signal = sig, "shutting down");
    // Controllers first: the VIP is released while etcd still runs, before
    // anything else; the API stays up meanwhile so the node can be watched.
    engine.shutdown().await;
    api.drain().await;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() -> Result<&'static str> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}
