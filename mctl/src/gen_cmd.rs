//! `mctl gen config`'s arguments (the work is in `gen.rs`).

use anyhow::Result;

#[derive(clap::Subcommand, Debug)]
pub enum GenCmd {
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
        output: std::path::PathBuf,
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

impl GenCmd {
    pub fn run(self) -> Result<bool> {
        let GenCmd::Config {
            name,
            endpoint,
            endpoints,
            output,
            force,
            patches,
            cp_patches,
            worker_patches,
        } = self;
        let p = crate::gen::Patches {
            both: patches,
            controlplane: cp_patches,
            worker: worker_patches,
        };
        crate::gen::run(&name, &endpoint, &endpoints, &output, force, &p)
    }
}
