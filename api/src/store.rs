//! What a node keeps on disk in its state directory: the applied config (so
//! a restart keeps it) and the fact that it was bootstrapped.

use std::path::{Path, PathBuf};

/// Owner of the MachineConfig resource and of what the store puts back
/// into the state at start (bootstrap, leave).
pub const CONFIG_OWNER: &str = "machined.api";

#[derive(Debug, Clone)]
pub struct NodeStore {
    dir: PathBuf,
    path: PathBuf,
}

impl NodeStore {
    pub fn new(state_dir: &Path) -> Self {
        NodeStore {
            dir: state_dir.to_path_buf(),
            path: state_dir.join("config.yaml"),
        }
    }

    fn marker(&self) -> PathBuf {
        self.dir.join("etcd").join("bootstrapped")
    }

    /// `bootstrap` was accepted here once, or etcd has data here.
    pub fn bootstrapped(&self) -> bool {
        self.marker().exists() || self.dir.join("etcd").join("data").join("member").is_dir()
    }

    pub fn bootstrap_requested(&self) -> bool {
        self.marker().exists()
    }

    pub fn mark_bootstrapped(&self) -> std::io::Result<()> {
        let m = self.marker();
        std::fs::create_dir_all(m.parent().unwrap_or(&self.dir))?;
        std::fs::write(m, b"")
    }

    fn left_marker(&self) -> PathBuf {
        self.dir.join(machined_resources::types::EtcdLeft::MARKER)
    }

    /// This node's member left the cluster (`mctl etcd leave`).
    pub fn left(&self) -> bool {
        self.left_marker().exists()
    }

    /// When the leave was recorded (the marker's time), if this node left.
    pub fn left_since(&self) -> Option<std::time::SystemTime> {
        let meta = std::fs::metadata(self.left_marker()).ok()?;
        Some(
            meta.modified()
                .unwrap_or_else(|_| std::time::SystemTime::now()),
        )
    }

    /// Records the leave; the node no longer counts as bootstrapped, so
    /// joining again joins (never starts a new cluster).
    pub fn mark_left(&self) -> std::io::Result<()> {
        let m = self.left_marker();
        std::fs::create_dir_all(m.parent().unwrap_or(&self.dir))?;
        std::fs::write(&m, b"")?;
        match std::fs::remove_file(self.marker()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    pub fn clear_left(&self) -> std::io::Result<()> {
        match std::fs::remove_file(self.left_marker()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn load(&self) -> std::io::Result<Option<String>> {
        match std::fs::read_to_string(&self.path) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes atomically (a crash leaves the old config or the new one,
    /// never half of one), owner-only: the config holds the CA keys.
    pub fn save(&self, text: &str) -> std::io::Result<()> {
        machined_pki::write_private(&self.path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_load() {
        let dir = std::env::temp_dir().join(format!("machined-store-{}", std::process::id()));
        let s = NodeStore::new(&dir);
        assert!(!s.bootstrapped());
        s.mark_bootstrapped().unwrap();
        assert!(s.bootstrapped());
        assert_eq!(s.load().unwrap(), None);
        s.save("a: 1\n").unwrap();
        s.save("a: 2\n").unwrap();
        assert_eq!(s.load().unwrap().as_deref(), Some("a: 2\n"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the config holds keys: owner-only");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
