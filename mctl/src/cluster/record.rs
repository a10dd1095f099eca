//! What a cluster is made of, written down before each piece is created so
//! `destroy` can undo even a half-failed `create`.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct NodeRecord {
    pub name: String,
    pub netns: String,
    pub ip: String,
    pub controlplane: bool,
    #[serde(default)]
    pub pid: Option<u32>,
    /// A virtual machine (`--provisioner qemu`): `pid` is qemu's, `netns`
    /// the LAN's, reached at `ip`.
    #[serde(default)]
    pub vm: bool,
    /// The stand-in service's pid (`create --stand-in`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stand_in_pid: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Record {
    pub name: String,
    pub cidr: String,
    pub vip: String,
    /// Every VIP (the first is `vip`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vips: Vec<String>,
    /// The namespace holding the bridge; also where clients run.
    pub lan: String,
    pub namespaces: Vec<String>,
    pub nodes: Vec<NodeRecord>,
}

pub fn clusters_root() -> PathBuf {
    if let Some(d) = std::env::var_os("MCTL_CLUSTERS_DIR") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".mctl").join("clusters")
}

pub fn dir(name: &str) -> PathBuf {
    clusters_root().join(name)
}

impl Record {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("cluster.json")
    }

    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join("cluster.json.tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(tmp, Self::path(dir))
    }

    pub fn load(dir: &Path) -> std::io::Result<Record> {
        let data = std::fs::read(Self::path(dir))?;
        serde_json::from_slice(&data).map_err(std::io::Error::other)
    }
}
