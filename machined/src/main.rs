//! machined: starts the node ([`node`]: state, controllers, the machine
//! API); waits for SIGTERM, SIGINT or a reboot/shutdown request; stops the
//! controllers (the VIP is released first), drains the API; exits (or,
//! asked to reboot outside the image, starts again). As PID 1 of the OS
//! image it first sets the machine up ([`pid1`]).

mod controllers;
mod lock;
mod metrics;
mod node;
mod pid1;
mod serve;
mod startup;

use anyhow::Result;
use clap::Parser;
use machined_api::PowerAction;
use node::Args;
use tokio::signal::unix::{signal, SignalKind};

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

/// Start, wait for a signal or a power request, stop.
async fn daemon(args: &Args, os: bool) -> Result<End> {
    let mut node = node::start(args, os).await?;
    // Under systemd (Type=notify): ready once the API listens.
    notify(sd_notify::NotifyState::Ready);
    let end = tokio::select! {
        sig = wait_for_signal() => End::Signal(sig?),
        a = node.power.wait_for(Option::is_some) => match a.ok().and_then(|a| *a) {
            Some(a) => End::Power(a),
            None => End::Signal("none"),
        },
    };
    match &end {
        End::Signal(sig) => tracing::info!(signal = sig, "shutting down"),
        End::Power(a) => tracing::info!(action = ?a, "shutting down for a power request"),
    }
    notify(sd_notify::NotifyState::Stopping);
    node.stop().await;
    tracing::info!("stopped");
    Ok(end)
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
