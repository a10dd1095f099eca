//! A local cluster made by the real `mctl cluster create`, destroyed on drop.

use crate::bins;
use crate::node::{Run, TempDir};
use serde_json::Value;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

/// Multi-node tests take this: two cores cannot host several clusters at once.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Cluster {
    pub name: String,
    pub dir: TempDir,
    pub record: Value,
}

fn mctl_cmd(dir: &TempDir) -> Command {
    let mut c = Command::new(bins::mctl());
    c.env("MCTL_CLUSTERS_DIR", &dir.0);
    // cluster create merges its context here, not into the user's config.
    c.env("MCTLCONFIG", dir.0.join("mctlconfig"));
    c
}

impl Cluster {
    /// `mctl cluster create --name <unique> ARGS`; panics (after cleaning
    /// up) if it fails.
    pub fn create(tag: &str, args: &[&str]) -> Cluster {
        let name = format!("{tag}{}", std::process::id() % 100_000);
        let dir = TempDir::new(&format!("cluster-{name}"));
        bins::dir();
        let out = mctl_cmd(&dir)
            .args(["cluster", "create", "--name", &name, "--machined"])
            .arg(bins::machined())
            .args(args)
            .output()
            .expect("running mctl cluster create");
        let mut c = Cluster {
            name,
            dir,
            record: Value::Null,
        };
        c.reload();
        assert!(
            out.status.success(),
            "cluster create failed:\n{}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            c.logs()
        );
        c
    }

    pub fn reload(&mut self) {
        let p = self.dir.0.join(&self.name).join("cluster.json");
        self.record = std::fs::read(p)
            .ok()
            .and_then(|d| serde_json::from_slice(&d).ok())
            .unwrap_or(Value::Null);
    }

    pub fn lan(&self) -> String {
        format!("{}-lan", self.name)
    }

    pub fn node_dir(&self, short: &str) -> std::path::PathBuf {
        self.dir.0.join(&self.name).join(short)
    }

    /// Every node's machined log, for failure messages.
    pub fn logs(&self) -> String {
        let mut s = String::new();
        for n in self.record["nodes"].as_array().into_iter().flatten() {
            let short = n["name"].as_str().unwrap_or_default();
            // A VM's machined logs to its serial console.
            let dir = self.node_dir(short);
            let log = std::fs::read_to_string(dir.join("machined.log"))
                .or_else(|_| std::fs::read_to_string(dir.join("console.log")))
                .unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            s.push_str(&format!("--- {short} (last lines)\n"));
            for l in tail.into_iter().rev() {
                s.push_str(l);
                s.push('\n');
            }
        }
        s
    }

    /// `mctl --netns NAME-lan ARGS`.
    pub fn mctl(&self, args: &[&str]) -> Run {
        self.mctl_command(args)
            .output()
            .expect("running mctl")
            .into()
    }

    /// The command `mctl` would run, to start it in another thread.
    pub fn mctl_command<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut c = mctl_cmd(&self.dir);
        c.args(["--netns", &self.lan()]).args(args);
        c
    }

    /// One ping to `addr` from the LAN namespace (2 s to answer); never
    /// panics.
    pub fn ping(&self, addr: &str) -> bool {
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.lan(),
                "ping",
                "-c",
                "1",
                "-W",
                "2",
                addr,
            ])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// A resource as JSON from `node`, or `None` if the call failed.
    pub fn get_json(&self, node: &str, type_: &str) -> Option<Value> {
        self.first_json(&["-n", node, "get", type_, "-o", "json"])
    }

    /// Resource `id` of `type_` on `node`, as JSON.
    pub fn get_one(&self, node: &str, type_: &str, id: &str) -> Option<Value> {
        self.first_json(&["-n", node, "get", type_, id, "-o", "json"])
    }

    /// The first line of what `mctl ARGS` prints, read as JSON.
    fn first_json(&self, args: &[&str]) -> Option<Value> {
        self.json_lines(args).into_iter().next()
    }

    /// Every resource of `type_` on `node`, as JSON.
    pub fn get_json_all(&self, node: &str, type_: &str) -> Vec<Value> {
        self.json_lines(&["-n", node, "get", type_, "-o", "json"])
    }

    /// Each line of mctl's output as JSON (none if mctl failed).
    fn json_lines(&self, args: &[&str]) -> Vec<Value> {
        let r = self.mctl(args);
        if !r.ok {
            return Vec::new();
        }
        r.stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// `mctl patch mc` on every control plane, live.
    pub fn patch_all(&self, patch: &str) {
        let nodes: Vec<String> = self.cps().into_iter().map(|c| c.2).collect();
        let file = self.dir.0.join("patch.yaml");
        std::fs::write(&file, patch).expect("write patch");
        let r = self.mctl(&[
            "-n",
            &nodes.join(","),
            "patch",
            "mc",
            "-p",
            &format!("@{}", file.display()),
        ]);
        assert!(r.ok, "patch mc: {}{}", r.stdout, r.stderr);
    }

    /// `mctl cluster start --name NAME SHORT`: a stopped node powered on
    /// again; the record (its new pid) is read again.
    pub fn power_on(&mut self, short: &str) -> Run {
        let r: Run = mctl_cmd(&self.dir)
            .args(["cluster", "start", "--name", &self.name, short])
            .output()
            .expect("running mctl cluster start")
            .into();
        self.reload();
        r
    }

    pub fn destroy(&self) -> Run {
        mctl_cmd(&self.dir)
            .args(["cluster", "destroy", "--name", &self.name])
            .output()
            .expect("running mctl cluster destroy")
            .into()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // MACHINED_KEEP_LOGS=DIR keeps every node's log for a post-mortem.
        if let Some(keep) = std::env::var_os("MACHINED_KEEP_LOGS") {
            for n in self.record["nodes"].as_array().into_iter().flatten() {
                let short = n["name"].as_str().unwrap_or_default();
                let dst = std::path::Path::new(&keep).join(format!("{}-{short}.log", self.name));
                let _ = std::fs::create_dir_all(&keep);
                let _ = std::fs::copy(self.node_dir(short).join("machined.log"), dst);
            }
        }
        let netns = std::path::Path::new("/run/netns").join(self.lan());
        if netns.exists() || self.dir.0.join(&self.name).exists() {
            let _ = self.destroy();
        }
    }
}

/// PIDs of processes named `comm` inside namespace `ns`.
pub fn pids_named(ns: &str, comm: &str) -> Vec<u32> {
    let out = Command::new("ip").args(["netns", "pids", ns]).output();
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    text.split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .collect()
}
