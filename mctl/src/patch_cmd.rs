//! The config-changing verbs' arguments: `patch machineconfig`, `edit
//! machineconfig`, and the offline `machineconfig patch` (their work is in
//! `patch.rs`).

use crate::apply::ModeArgs;
use crate::session::Session;
use anyhow::Result;
use std::path::PathBuf;

/// `mctl patch machineconfig -p PATCH...`.
#[derive(clap::Args, Debug)]
pub struct PatchArgs {
    /// What to patch: machineconfig (or mc).
    #[arg(value_parser = ["machineconfig", "mc"])]
    what: String,
    /// Strategic merge or JSON 6902 patches (`@FILE` or inline), in order.
    #[arg(short = 'p', long = "patch", required = true)]
    patches: Vec<String>,
    /// Validate on the nodes without applying.
    #[arg(long)]
    dry_run: bool,
}

impl PatchArgs {
    pub async fn run(self, s: &Session) -> Result<bool> {
        crate::patch::live(s, &self.patches, self.dry_run).await
    }
}

/// `mctl edit machineconfig`.
#[derive(clap::Args, Debug)]
pub struct EditArgs {
    /// What to edit: machineconfig (or mc).
    #[arg(value_parser = ["machineconfig", "mc"])]
    what: String,
    #[command(flatten)]
    mode: ModeArgs,
}

impl EditArgs {
    pub async fn run(self, s: &Session) -> Result<bool> {
        crate::patch::edit(s, &self.mode.how(false)).await
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum MachineConfigCmd {
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

impl MachineConfigCmd {
    pub fn run(self) -> Result<bool> {
        match self {
            MachineConfigCmd::Patch {
                file,
                patches,
                output,
            } => crate::patch::offline(&file, &patches, output.as_ref()),
        }
    }
}
