//! A machined node in its own namespace, and mctl runs.

use crate::netns::Netns;
use crate::process::Proc;
use crate::{bins, wait_for, PATIENCE};
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("machined-test-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Result of an mctl run.
pub struct Run {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            ok: o.status.success(),
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs the real mctl inside `ns`.
pub fn mctl(ns: &Netns, args: &[&str]) -> Run {
    ns.exec(&bins::mctl().to_string_lossy(), args).into()
}

pub struct Machined {
    pub proc: Option<Proc>,
    pub state_dir: PathBuf,
    log: PathBuf,
}

impl Machined {
    /// Starts machined in `ns` with its state under `dir`.
    pub fn start(ns: &Netns, dir: &TempDir) -> Self {
        let state_dir = dir.0.join("state");
        let log = dir.0.join("machined.log");
        let mut m = Machined {
            proc: None,
            state_dir,
            log,
        };
        m.spawn(ns);
        m
    }

    fn spawn(&mut self, ns: &Netns) {
        let sd = self.state_dir.to_string_lossy().into_owned();
        self.proc = Some(Proc::spawn_in(
            ns,
            &bins::machined(),
            &["--state-dir", &sd, "--listen", "0.0.0.0:50000"],
            &self.log,
        ));
    }

    /// Waits until the API answers `mctl version` from `client` at `addr`.
    pub fn wait_ready(&self, client: &Netns, addr: &str) {
        wait_for("machined API", PATIENCE, || {
            mctl(client, &["-n", addr, "version"]).ok.then_some(())
        });
    }

    /// SIGTERM; returns whether it exited 0 within the grace period.
    pub fn stop(&mut self) -> bool {
        let st = self
            .proc
            .as_mut()
            .and_then(|p| p.stop(Duration::from_secs(20)));
        st.is_some_and(|s| s.success())
    }

    pub fn restart(&mut self, ns: &Netns) -> bool {
        let clean = self.stop();
        self.spawn(ns);
        clean
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
