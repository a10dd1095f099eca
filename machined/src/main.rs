//! machined: takes the state directory, starts the state, the controllers
//! and the machine API; waits for SIGTERM, SIGINT or a reboot/shutdown
//! request; stops the controllers (the VIP is released first), drains the
//! API; exits (or, asked to reboot outside the image, starts again). As PID 1
//! of the OS image it first sets the machine up ([`pid1`]).

mod controllers;
mod etcd_api;
mod etcd_recover;
mod etcd_verbs;
mod health_api;
mod lock;
mod metrics;
mod pid1;
mod proxy;
mod quorum;
mod serve;
mod startup;

use anyhow::{Context, Result};
use clap::Parser;
use machined_api::{NodeStore, PowerAction, PowerSwitch};
use machined_resources::State;
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::signal::unix::{signal, SignalKind};

#[derive(Parser, Debug)]
#[command(
    version = env!("MACHINED_VERSION_LINE"),
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
    /// Where to serve Prometheus metrics (/metrics) and /healthz over HTTP;
    /// `off` for nowhere.
    #[arg(long, default_value = "127.0.0.1:2112")]
    metrics_listen: String,
    /// Log format.
    #[arg(long, value_parser = ["text", "json"], default_value = "text")]
    log_format: String,
}

/// What ended the daemon.
enum End {
    Signal(&'static str),
    Power(PowerAction),
}

fn main() -> Result<()> {
    // As PID 1 the machine is set up first, before any thread exists; the
    // daemon runs in a child (PID 1 stays behind to reap and to reboot),
    // with the image's paths whatever the kernel passed as arguments.
    let os = std::process::id() == 1;
    let args = if os {
        pid1::become_init();
        Args::parse_from([
            "machined",
            "--etcd-binary",
            "/usr/bin/etcd",
            "--set-hostname",
        ])
    } else {
        Args::parse()
    };
    let end = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?
        .block_on(daemon(&args, os))?;
    match end {
        End::Power(PowerAction::Reboot) if os => std::process::exit(pid1::EXIT_REBOOT),
        End::Power(PowerAction::PowerOff) if os => std::process::exit(pid1::EXIT_POWEROFF),
        End::Power(PowerAction::Reboot) => restart_self(),
        End::Power(PowerAction::PowerOff) | End::Signal(_) => Ok(()),
    }
}

/// A reboot outside the image: machined starts again, same arguments.
fn restart_self() -> Result<()> {
    use std::os::unix::process::CommandExt;
    let mut argv = std::env::args_os();
    let _ = argv.next();
    tracing::info!("rebooting: starting machined again");
    let e = std::process::Command::new("/proc/self/exe")
        .args(argv)
        .exec();
    Err(anyhow::anyhow!("re-executing machined: {e}"))
}

async fn daemon(args: &Args, os: bool) -> Result<End> {
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
    // The image's daemon (PID 1's child) owns the machine's name.
    let set_hostname = match machined_controllers::network::shares_init_uts_namespace() {
        _ if os => true,
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
        // Only the image reads the kernel command line (`ip=`).
        os.then(|| std::fs::read_to_string("/proc/cmdline").unwrap_or_default())
            .and_then(|c| machined_controllers::network::parse_ip(&c)),
    )?
    .start();
    metrics::start(&args.metrics_listen);
    let node = machined_controllers::kernel::hostname();
    let (power, mut power_rx) = PowerSwitch::new();
    let api = serve::serve(listener, &state, store, node.clone(), power)?;
    tracing::info!(listen = %args.listen, node = %node, "machine API up");
    // Under systemd (Type=notify): ready once the API listens.
    notify(sd_notify::NotifyState::Ready);

    let end = tokio::select! {
        sig = wait_for_signal() => End::Signal(sig?),
        a = power_rx.wait_for(Option::is_some) => match a.ok().and_then(|a| *a) {
            Some(a) => End::Power(a),
            None => End::Signal("none"),
        },
    };
    match &end {
        End::Signal(sig) => tracing::info!(signal = sig, "shutting down"),
        End::Power(a) => tracing::info!(action = ?a, "shutting down for a power request"),
    }
    notify(sd_notify::NotifyState::Stopping);
    // Controllers first: the VIP is released while etcd still runs, before
    // anything else; the API stays up meanwhile so the node can be watched.
    engine.shutdown().await;
    api.drain().await;
    tracing::info!("stopped");
    Ok(end)
}

/// Tells systemd, when it started us with a notify socket (else nothing).
fn notify(state: sd_notify::NotifyState<'_>) {
    if let Err(e) = sd_notify::notify(&[state]) {
        tracing::warn!(error = %e, "telling systemd our state failed");
    }
}

async fn wait_for_signal() -> Result<&'static str> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}
