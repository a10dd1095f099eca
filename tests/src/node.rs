//! A machined node in its own namespace, and mctl runs.

use crate::netns::Netns;
use crate::process::Proc;
use crate::{bins, wait_for, PATIENCE};
use std::path::{Path, PathBuf};
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

/// Runs the real mctl inside `ns`, with no client config.
pub fn mctl(ns: &Netns, args: &[&str]) -> Run {
    let mut a = vec!["--mctlconfig", "/nonexistent/mctlconfig"];
    a.extend_from_slice(args);
    ns.exec(&bins::mctl().to_string_lossy(), &a).into()
}

/// Runs the real mctl inside `ns` with client config `cfg`.
pub fn mctl_as(ns: &Netns, cfg: &Path, args: &[&str]) -> Run {
    let c = cfg.to_string_lossy();
    let mut a = vec!["--mctlconfig", c.as_ref()];
    a.extend_from_slice(args);
    ns.exec(&bins::mctl().to_string_lossy(), &a).into()
}

/// Cluster secrets and base configs from the real `mctl gen config`.
pub struct Secrets {
    pub dir: PathBuf,
}

impl Secrets {
    pub fn generate(dir: &TempDir, name: &str, endpoint: &str) -> Secrets {
        let out = dir.0.join("secrets");
        let r: Run = std::process::Command::new(bins::mctl())
            .args(["gen", "config", name, endpoint, "-o"])
            .arg(&out)
            .output()
            .expect("mctl gen config")
            .into();
        assert!(r.ok, "gen config: {}", r.stderr);
        Secrets { dir: out }
    }

    /// The admin client config.
    pub fn mctlconfig(&self) -> PathBuf {
        self.dir.join("mctlconfig")
    }

    /// `controlplane.yaml` or `worker.yaml` with `machine.network` set to
    /// `network` (YAML) and `etcd` (YAML) merged into `cluster.etcd`.
    pub fn config(&self, kind: &str, network: &str, etcd: Option<&str>) -> String {
        let text =
            std::fs::read_to_string(self.dir.join(format!("{kind}.yaml"))).expect("base config");
        let mut v: yaml_serde::Value = yaml_serde::from_str(&text).expect("yaml");
        v["machine"]["network"] = yaml_serde::from_str(network).expect("network yaml");
        if let Some(e) = etcd {
            let extra: yaml_serde::Mapping = yaml_serde::from_str(e).expect("etcd yaml");
            if !v["cluster"].get("etcd").is_some_and(|x| x.is_mapping()) {
                v["cluster"]["etcd"] = yaml_serde::Value::Mapping(Default::default());
            }
            if let yaml_serde::Value::Mapping(m) = &mut v["cluster"]["etcd"] {
                m.extend(extra);
            }
        }
        yaml_serde::to_string(&v).expect("yaml")
    }
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
            &[
                "--state-dir",
                &sd,
                "--listen",
                "0.0.0.0:50000",
                "--set-hostname",
            ],
            &self.log,
        ));
    }

    /// Waits until the API answers `mctl version` from `client` at `addr`.
    pub fn wait_ready(&self, client: &Netns, addr: &str) {
        wait_for("machined API", PATIENCE, || {
            mctl(client, &["--insecure", "-n", addr, "version"])
                .ok
                .then_some(())
        });
    }

    /// Waits until the API of a configured node answers to `cfg`'s client.
    pub fn wait_ready_as(&self, client: &Netns, addr: &str, cfg: &Path) {
        wait_for("machined API (mTLS)", PATIENCE, || {
            mctl_as(client, cfg, &["-n", addr, "version"])
                .ok
                .then_some(())
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

    /// The hostname machined's process sees (its own UTS namespace), read
    /// from outside with nsenter.
    pub fn hostname(&self) -> Option<String> {
        let pid = self.proc.as_ref()?.pid()?;
        let out = std::process::Command::new("nsenter")
            .arg(format!("--uts=/proc/{pid}/ns/uts"))
            .arg("hostname")
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}
