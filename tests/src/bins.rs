//! The real `machined` and `mctl` binaries, built once per test process.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

fn target_dir() -> PathBuf {
    // tests run from target/<profile>/deps/<test-binary>
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(|p| p.parent())
        .expect("target dir")
        .to_path_buf()
}

/// Builds the binaries (debug, like the tests) if `cargo` is available, so
/// tests never run stale binaries; returns their directory.
pub fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Ok(d) = std::env::var("MACHINED_BIN_DIR") {
            return PathBuf::from(d);
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "machined", "-p", "mctl"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("running cargo build");
        assert!(status.success(), "cargo build of machined and mctl failed");
        target_dir()
    })
}

pub fn machined() -> PathBuf {
    dir().join("machined")
}

pub fn mctl() -> PathBuf {
    dir().join("mctl")
}
