//! mctl: the command-line client of machined.

mod apply;
mod bootstrap;
mod cluster;
mod config_cmd;
mod dashboard;
mod docs;
mod etcd;
mod gen;
mod get;
mod health;
mod image;
mod mctlconfig;
mod observe;
mod output;
mod patch;
mod power;
mod session;
mod validate;
mod version;
mod vip;
mod vip_pin;

use anyhow::Result;
use clap::{Parser, Subcommand};
use session::Target;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "mctl", version = env!("MACHINED_VERSION_LINE"), about = "Talk to machined nodes")]
struct Cli {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Apply a machine config to nodes.
    ApplyConfig {
        /// The machine config to apply.
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// Patches to apply to the file first (`@FILE` or inline YAML), in order.
        #[arg(short = 'p', long = "config-patch")]
        patches: Vec<String>,
        /// Validate on the node and print the change (a diff); change nothing.
        #[arg(long)]
        dry_run: bool,
        /// auto | no-reboot (at once), staged (on the next start), try (for
        /// --timeout, then rolled back unless applied again).
        #[arg(long, default_value = "auto", value_parser = ["auto", "no-reboot", "staged", "try"])]
        mode: String,
        /// How long a `--mode try` config stays, e.g. 90s or 2m.
        #[arg(long, default_value = "1m", value_parser = apply::parse_timeout)]
        timeout: u32,
    },
    /// Patch the config nodes run (`mctl patch machineconfig -p @vip.yaml`).
    Patch {
        /// What to patch: machineconfig (or mc).
        #[arg(value_parser = ["machineconfig", "mc"])]
        what: String,
        /// Strategic merge or JSON 6902 patches (`@FILE` or inline), in order.
        #[arg(short = 'p', long = "patch", required = true)]
        patches: Vec<String>,
        /// Validate on the nodes without applying.
        #[arg(long)]
        dry_run: bool,
    },
    /// Edit the config a node runs in $EDITOR and apply it (`talosctl edit mc`).
    Edit {
        /// What to edit: machineconfig (or mc).
        #[arg(value_parser = ["machineconfig", "mc"])]
        what: String,
        /// auto | no-reboot | staged | try, as for apply-config.
        #[arg(long, default_value = "auto", value_parser = ["auto", "no-reboot", "staged", "try"])]
        mode: String,
        /// How long a `--mode try` config stays, e.g. 90s or 2m.
        #[arg(long, default_value = "1m", value_parser = apply::parse_timeout)]
        timeout: u32,
    },
    /// Work on machine config files locally.
    #[command(subcommand, name = "machineconfig", alias = "mc")]
    MachineConfig(MachineConfigCmd),
    /// Start a new etcd cluster on one control-plane node (use its own
    /// address, never the VIP: the VIP needs etcd).
    Bootstrap {
        /// Restore the cluster from a snapshot (mctl etcd snapshot).
        #[arg(long)]
        recover_from: Option<PathBuf>,
    },
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
    Validate {
        /// The machine config (one or several YAML documents).
        #[arg(short = 'f', long = "file", short_alias = 'c', alias = "config")]
        file: PathBuf,
        /// Treat every warning as an error, the summary of Talos settings
        /// machined does not act on included.
        #[arg(long)]
        strict: bool,
    },
    /// Generate cluster secrets and configs.
    #[command(subcommand)]
    Gen(GenCmd),
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
    Version {
        /// Client version only.
        #[arg(long)]
        client: bool,
    },
    /// Print a shell completion script (`source <(mctl completion bash)`).
    Completion {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: docs::Shell,
    },
    /// Write the man pages into DIR (packaging).
    #[command(hide = true)]
    Man {
        /// Where to write them.
        dir: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum MachineConfigCmd {
    /// Patch a config file; prints the result (or writes it with -o).
    Patch {
        /// The machine config file to patch.
        file: PathBuf,
        /// Strategic merge or JSON 6902 patches (`@FILE`, a file name, or
        /// inline), in order.
        #[arg(short = 'p', long = "patch", required = true)]
        patches: Vec<String>,
        /// Write the result here (default: standard output).
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum GenCmd {
    /// Secrets, controlplane.yaml, worker.yaml and mctlconfig for a cluster.
    Config {
        /// Cluster name.
        name: String,
        /// Control-plane endpoint, e.g. https://10.5.0.50:6443 (the VIP).
        endpoint: String,
        /// The client config's endpoints: the nodes' own addresses
        /// (comma-separated). Without them, set them later with `mctl config
        /// endpoint`; never the VIP, which answers only after bootstrap.
        #[arg(long, value_delimiter = ',')]
        endpoints: Vec<String>,
        /// Where to write the files.
        #[arg(short = 'o', long = "output-dir", default_value = ".")]
        output: PathBuf,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
        /// Patches for both configs (`@FILE` or inline YAML), in order.
        #[arg(long = "config-patch")]
        patches: Vec<String>,
        /// Patches for controlplane.yaml only, applied after --config-patch.
        #[arg(long = "config-patch-control-plane")]
        cp_patches: Vec<String>,
        /// Patches for worker.yaml only, applied after --config-patch.
        #[arg(long = "config-patch-worker")]
        worker_patches: Vec<String>,
    },
}

async fn run(cli: Cli) -> Result<bool> {
    let t = &cli.target;
    match cli.cmd {
        Cmd::Validate { file, strict } => validate::run(&file, strict),
        Cmd::ApplyConfig {
            file,
            patches,
            dry_run,
            mode,
            timeout,
        } => {
            let how = apply::How {
                dry_run,
                mode: apply::mode(&mode),
                timeout_secs: timeout,
            };
            apply::run(&t.session()?, &file, &patches, &how).await
        }
        Cmd::Patch {
            what: _,
            patches,
            dry_run,
        } => patch::live(&t.session()?, &patches, dry_run).await,
        Cmd::Edit {
            what: _,
            mode,
            timeout,
        } => {
            let how = apply::How {
                dry_run: false,
                mode: apply::mode(&mode),
                timeout_secs: timeout,
            };
            patch::edit(&t.session()?, &how).await
        }
        Cmd::MachineConfig(MachineConfigCmd::Patch {
            file,
            patches,
            output,
        }) => patch::offline(&file, &patches, output.as_ref()),
        Cmd::Get(args) if args.definitions() => get::definitions(&args),
        Cmd::Get(args) => get::run(&t.session()?, args).await,
        Cmd::Events(a) => observe::events(&t.session()?, a).await,
        Cmd::Logs(a) => observe::logs(&t.session()?, a).await,
        Cmd::Dmesg(a) => observe::dmesg(&t.session()?, a).await,
        Cmd::Processes(a) => observe::processes(&t.session()?, a).await,
        Cmd::Dashboard => dashboard::run(t.session()?).await,
        Cmd::Vip(c) => vip::run(&t.session()?, c).await,
        Cmd::Health(a) => health::run(&t.session()?, a).await,
        Cmd::Bootstrap { recover_from } => {
            bootstrap::run(&t.session()?, recover_from.as_deref()).await
        }
        Cmd::Reboot(a) => power::run(&t.session()?, true, &a).await,
        Cmd::Shutdown(a) => power::run(&t.session()?, false, &a).await,
        Cmd::Etcd(c) => etcd::run(&t.session()?, c).await,
        Cmd::Version { client } => version::run(t, client).await,
        Cmd::Completion { shell } => docs::completion::<Cli>(shell),
        Cmd::Man { dir } => docs::man::<Cli>(&dir),
        Cmd::Gen(GenCmd::Config {
            name,
            endpoint,
            endpoints,
            output,
            force,
            patches,
            cp_patches,
            worker_patches,
        }) => {
            let p = gen::Patches {
                both: patches,
                controlplane: cp_patches,
                worker: worker_patches,
            };
            gen::run(&name, &endpoint, &endpoints, &output, force, &p)
        }
        Cmd::Config(c) => config_cmd::run(t, c).await,
        Cmd::Cluster(cluster::ClusterCmd::StandIn(a)) => cluster::stand_in::run(&a).await,
        Cmd::Cluster(c) => tokio::task::spawn_blocking(move || cluster::run(&c)).await?,
        Cmd::Image(c) => tokio::task::spawn_blocking(move || image::run(&c)).await?,
    }
}

fn main() {
    // A closed output pipe (`mctl logs etcd | head`) ends mctl quietly, as
    // it does other Unix tools, instead of a panic in println!.
    // SAFETY: before any thread exists; SIG_DFL is always a valid action.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigDfl,
        );
    }
    let cli = Cli::parse();
    // `cluster` manages namespaces from the host; everything else may run
    // inside the LAN namespace of a local cluster.
    let netns = match &cli.cmd {
        Cmd::Cluster(_)
        | Cmd::Image(_)
        | Cmd::Gen(_)
        | Cmd::Validate { .. }
        | Cmd::MachineConfig(_)
        | Cmd::Completion { .. }
        | Cmd::Man { .. } => Ok(None),
        Cmd::Get(a) if a.definitions() => Ok(None),
        _ => cli.target.netns(),
    };
    let result = netns
        .and_then(|ns| ns.as_deref().map_or(Ok(()), session::enter_netns))
        .and_then(|_| {
            Ok(tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?)
        });
    let code = match result.and_then(|rt| rt.block_on(run(cli))) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("error: {}{}", output::chain(&e), session::where_hint());
            1
        }
    };
    std::process::exit(code);
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
