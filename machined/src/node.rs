//! The running node: everything `main` starts, in order, and stops in
//! reverse: the state directory and its lock, the state with the stored
//! config, the API's port (taken before any controller touches the
//! kernel), the controllers, metrics, the API.

use crate::startup;
use anyhow::{Context, Result};
use clap::Parser;
use machined_api::{NodeStore, PowerAction, PowerSwitch};
use machined_resources::State;
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::sync::watch;

#[derive(Parser, Debug)]
#[command(
    version = env!("MACHINED_VERSION_LINE"),
    about = "The node daemon: resources, controllers and the machine API"
)]
pub struct Args {
    /// Where the applied config and other node state are kept.
    #[arg(long, default_value = "/var/lib/machined")]
    pub state_dir: PathBuf,
    /// Address of the machine API.
    #[arg(long, default_value = "0.0.0.0:50000")]
    pub listen: SocketAddr,
    /// A machine config to apply at start (validated; persisted like an apply).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The etcd binary (control planes run it); found on PATH by default.
    #[arg(long, default_value = "etcd")]
    pub etcd_binary: PathBuf,
    /// Set the kernel's hostname from the config or DHCP. For a machined in
    /// a UTS namespace of its own (the lab); as PID 1 it is always on.
    /// Refused when this process visibly shares PID 1's UTS namespace.
    #[arg(long)]
    pub set_hostname: bool,
    /// Where to serve Prometheus metrics (/metrics) and /healthz over HTTP;
    /// `off` for nowhere.
    #[arg(long, default_value = "127.0.0.1:2112")]
    pub metrics_listen: String,
    /// Log format.
    #[arg(long, value_parser = ["text", "json"], default_value = "text")]
    pub log_format: String,
}

/// What `start` started; `stop` ends it.
pub struct Node {
    engine: machined_controllers::runtime::Running,
    api: crate::serve::Serving,
    /// Reboot and shutdown requests from the API.
    pub power: watch::Receiver<Option<PowerAction>>,
    _lock: crate::lock::StateLock,
}

/// Starts the node (`os`: as the image's daemon).
pub async fn start(args: &Args, os: bool) -> Result<Node> {
    startup::init_logs(&args.log_format, !os);
    machined_telemetry::metrics::set_build(machined_telemetry::metrics::Build {
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("MACHINED_COMMIT"),
        date: env!("MACHINED_BUILD_DATE"),
    });
    if os {
        startup::loopback_up().await;
    }
    std::fs::create_dir_all(&args.state_dir)
        .with_context(|| format!("creating state dir {}", args.state_dir.display()))?;
    let lock = crate::lock::take(&args.state_dir)?;

    let state = State::new();
    let store = NodeStore::new(&args.state_dir);
    startup::initial_config(args.config.as_deref(), &store, &state)?;
    startup::restore_bootstrap(&store, &state)?;

    // The API's port is taken before any controller runs: a second machined
    // in the same network namespace stops here, before touching the kernel.
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    // The image's daemon (PID 1's child) owns the machine's name.
    let set_hostname = match machined_controllers::network::shares_init_uts_namespace() {
        _ if os => true,
        Some(true) if args.set_hostname => {
            tracing::warn!("--set-hostname refused: this process shares PID 1's UTS namespace");
            false
        }
        _ => args.set_hostname,
    };
    let engine = crate::controllers::engine(
        state.clone(),
        &args.state_dir,
        &args.etcd_binary,
        set_hostname,
        // Only the image reads the kernel command line (`ip=`).
        os.then(|| std::fs::read_to_string("/proc/cmdline").unwrap_or_default())
            .and_then(|c| machined_controllers::network::parse_ip(&c)),
    )?
    .start();
    crate::metrics::start(&args.metrics_listen);
    let node = machined_controllers::kernel::hostname();
    let (switch, power) = PowerSwitch::new();
    let api = crate::serve::serve(listener, &state, store, node.clone(), switch)?;
    tracing::info!(listen = %args.listen, node = %node, "machine API up");
    Ok(Node {
        engine,
        api,
        power,
        _lock: lock,
    })
}

impl Node {
    /// Controllers first: the VIP is released while etcd still runs, before
    /// anything else; the API stays up meanwhile so the node can be
    /// watched; then the API drains.
    pub async fn stop(self) {
        self.engine.shutdown().await;
        self.api.drain().await;
    }
}
