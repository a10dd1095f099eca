//! The config-changing verbs' arguments: `patch machineconfig`, `edit
//! machineconfig`, and the offline `machineconfig patch` (their work is in
//! `patch.rs`).

use crate::apply::ModeArgs;
use crate::session::Session;
use anyhow::{bail, Context, Result};
use machined_resources::config;
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
        edit(s, &self.mode.how(false)).await
    }
}

/// `mctl edit machineconfig`: the config of one node in `$EDITOR`, applied
/// back when it changed (and still valid).
pub async fn edit(s: &Session, how: &crate::apply::How) -> Result<bool> {
    let node = s.one_node("edit one node at a time")?;
    let raw = crate::patch::applied(s, node).await?;
    let dir = std::env::temp_dir().join(format!("mctl-edit-{}", std::process::id()));
    let file = dir.join("machineconfig.yaml");
    machined_pki::write_private(&file, raw.as_bytes())?;
    let editor = std::env::var("EDITOR")
        .or_else(|_| std::env::var("VISUAL"))
        .unwrap_or_else(|_| "vi".into());
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&file)
        .status()
        .with_context(|| format!("running {editor}"));
    let edited = std::fs::read_to_string(&file);
    let _ = std::fs::remove_dir_all(&dir);
    if !status?.success() {
        bail!("{editor} failed; nothing applied");
    }
    let edited = edited?;
    if edited == raw {
        println!("{node}: edit cancelled, no changes made");
        return Ok(true);
    }
    if let Err(e) = config::parse(&edited) {
        bail!("the edited config is not valid; nothing applied:\n{e}");
    }
    Ok(crate::apply::send(s, edited, how).await)
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
