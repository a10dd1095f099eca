//! mctl's command line: the verbs, each with its own arguments in its own
//! module, and where each goes.

use crate::session::Target;
use crate::{
    apply, bootstrap, cluster, config_cmd, dashboard, docs, etcd, gen_cmd, get, health, image,
    observe, patch_cmd, power, validate, version, vip,
};
use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "mctl", version = env!("MACHINED_VERSION_LINE"), about = "Talk to machined nodes")]
pub struct Cli {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Apply a machine config to nodes.
    ApplyConfig(apply::ApplyArgs),
    /// Patch the config nodes run (`mctl patch machineconfig -p @vip.yaml`).
    Patch(patch_cmd::PatchArgs),
    /// Edit the config a node runs in $EDITOR and apply it (`talosctl edit mc`).
    Edit(patch_cmd::EditArgs),
    /// Work on machine config files locally.
    #[command(subcommand, name = "machineconfig", alias = "mc")]
    MachineConfig(patch_cmd::MachineConfigCmd),
    /// Start a new etcd cluster on one control-plane node (use its own
    /// address, never the VIP: the VIP needs etcd).
    Bootstrap(bootstrap::BootstrapArgs),
    /// Stop the nodes cleanly (VIP released first, then etcd) and reboot
    /// them, one at a time: each back with etcd healthy before the next.
    Reboot(power::PowerArgs),
    /// Stop the nodes cleanly and power them off, one at a time.
    Shutdown(power::PowerArgs),
    /// The etcd cluster: members, status, leave, join, remove-member,
    /// forfeit-leadership, snapshot.
    #[command(subcommand)]
    Etcd(etcd::EtcdCmd),
    /// Get or watch resources.
    Get(get::GetArgs),
    /// Stream the nodes' events (VIP acquired, released, moved; config;
    /// etcd; health checks).
    Events(observe::EventsArgs),
    /// Show a service's log (machined or etcd) from the node's buffer.
    Logs(observe::LogsArgs),
    /// Show the kernel log.
    Dmesg(observe::DmesgArgs),
    /// The node's processes: pid, parent, state, threads, CPU time, memory.
    #[command(alias = "ps")]
    Processes(observe::ProcessesArgs),
    /// A live view of the nodes: VIP holder and candidates, etcd, events.
    Dashboard,
    /// Check the cluster from a node (etcd, members, the VIP holder), then
    /// that the VIP answers from here; waits for each check to pass.
    Health(health::HealthArgs),
    /// Planned moves of the VIP (forfeit, move), and the break-glass pin
    /// for when etcd has lost quorum (pin, unpin).
    #[command(subcommand)]
    Vip(vip::VipCmd),
    /// Check a machine config locally: warnings and exit 0, or every error and exit 1.
    Validate(validate::ValidateArgs),
    /// Generate cluster secrets and configs.
    #[command(subcommand)]
    Gen(gen_cmd::GenCmd),
    /// Client config: contexts, info, new client certificates.
    #[command(subcommand)]
    Config(config_cmd::ConfigCmd),
    /// Local clusters in network namespaces.
    #[command(subcommand)]
    Cluster(cluster::ClusterCmd),
    /// The OS image: Debian's kernel and an initramfs with machined as /init.
    #[command(subcommand)]
    Image(image::ImageCmd),
    /// Print client and node versions.
    Version(version::VersionArgs),
    /// Print a shell completion script (`source <(mctl completion bash)`).
    Completion(docs::CompletionArgs),
    /// Write the man pages into DIR (packaging).
    #[command(hide = true)]
    Man(docs::ManArgs),
}

impl Cli {
    /// Whether the command runs here, never in a cluster's namespace:
    /// `cluster` manages namespaces from the host; local file work needs
    /// no node.
    pub fn local(&self) -> bool {
        match &self.cmd {
            Cmd::Cluster(_)
            | Cmd::Image(_)
            | Cmd::Gen(_)
            | Cmd::Validate(_)
            | Cmd::MachineConfig(_)
            | Cmd::Completion(_)
            | Cmd::Man(_) => true,
            Cmd::Get(a) => a.definitions(),
            _ => false,
        }
    }

    /// Runs the command; true when everything it asked succeeded.
    pub async fn run(self) -> Result<bool> {
        let t = &self.target;
        match self.cmd {
            Cmd::Validate(a) => a.run(),
            Cmd::ApplyConfig(a) => a.run(&t.session()?).await,
            Cmd::Patch(a) => a.run(&t.session()?).await,
            Cmd::Edit(a) => a.run(&t.session()?).await,
            Cmd::MachineConfig(c) => c.run(),
            Cmd::Get(a) if a.definitions() => get::definitions(&a),
            Cmd::Get(a) => get::run(&t.session()?, a).await,
            Cmd::Events(a) => observe::events(&t.session()?, a).await,
            Cmd::Logs(a) => observe::logs(&t.session()?, a).await,
            Cmd::Dmesg(a) => observe::dmesg(&t.session()?, a).await,
            Cmd::Processes(a) => observe::processes(&t.session()?, a).await,
            Cmd::Dashboard => dashboard::run(t.session()?).await,
            Cmd::Vip(c) => vip::run(&t.session()?, c).await,
            Cmd::Health(a) => health::run(&t.session()?, a).await,
            Cmd::Bootstrap(a) => a.run(&t.session()?).await,
            Cmd::Reboot(a) => power::run(&t.session()?, true, &a).await,
            Cmd::Shutdown(a) => power::run(&t.session()?, false, &a).await,
            Cmd::Etcd(c) => etcd::run(&t.session()?, c).await,
            Cmd::Version(a) => a.run(t).await,
            Cmd::Completion(a) => docs::completion::<Cli>(a.shell),
            Cmd::Man(a) => docs::man::<Cli>(&a.dir),
            Cmd::Gen(c) => c.run(),
            Cmd::Config(c) => config_cmd::run(t, c).await,
            Cmd::Cluster(cluster::ClusterCmd::StandIn(a)) => cluster::stand_in::run(&a).await,
            Cmd::Cluster(c) => tokio::task::spawn_blocking(move || cluster::run(&c)).await?,
            Cmd::Image(c) => tokio::task::spawn_blocking(move || image::run(&c)).await?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every option and argument of every command says what it is for.
    #[test]
    fn every_option_has_a_description() {
        fn walk(c: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in c.get_arguments() {
                let id = a.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for s in c.get_subcommands() {
                walk(s, &format!("{path} {}", s.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "mctl", &mut missing);
        assert!(missing.is_empty(), "no description: {missing:#?}");
    }
}
