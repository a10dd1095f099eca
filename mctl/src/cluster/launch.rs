//! How a node's process was started (`NODE/launch.json`): the namespace,
//! the binary, its arguments and its log, so `mctl cluster start` can power
//! a stopped node on again exactly as `create` did.

use super::lab;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Launch {
    pub netns: String,
    pub bin: PathBuf,
    pub args: Vec<String>,
    pub log: PathBuf,
}

impl Launch {
    pub fn path(node_dir: &Path) -> PathBuf {
        node_dir.join("launch.json")
    }

    pub fn load(node_dir: &Path) -> Result<Launch> {
        let p = Self::path(node_dir);
        let data = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
        serde_json::from_slice(&data).with_context(|| format!("parsing {}", p.display()))
    }

    /// Writes the record next to the node, then starts the process
    /// detached; returns its pid.
    pub fn run(&self, node_dir: &Path) -> Result<u32> {
        let p = Self::path(node_dir);
        std::fs::write(&p, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", p.display()))?;
        lab::spawn_detached(&self.netns, &self.bin, &self.args, &self.log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_launch_record_reads_back_as_written() {
        let dir = std::env::temp_dir().join(format!("mctl-launch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let l = Launch {
            netns: "lab-lan".into(),
            bin: "/usr/bin/qemu-system-x86_64".into(),
            args: vec!["-m".into(), "512".into()],
            log: dir.join("qemu.log"),
        };
        std::fs::write(Launch::path(&dir), serde_json::to_vec(&l).unwrap()).unwrap();
        assert_eq!(Launch::load(&dir).unwrap(), l);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(Launch::load(&dir).is_err());
    }
}
