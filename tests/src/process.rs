//! Processes started by tests: killed by PID on drop, logs kept in a file.

use crate::netns::Netns;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub struct Proc {
    child: Option<Child>,
    pub log: PathBuf,
}

impl Proc {
    /// Starts `bin args` inside `ns` (`ip netns exec` execs, so the PID is
    /// the program's own) in a UTS namespace of its own, output appended to
    /// `log`.
    pub fn spawn_in(ns: &Netns, bin: &Path, args: &[&str], log: &Path) -> Self {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open log");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &ns.name])
            .arg(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(f.try_clone().expect("dup log"))
            .stderr(f);
        // A UTS namespace of its own: a machined sets its hostname there,
        // never the host's.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUTS)
                    .map_err(std::io::Error::from)
            });
        }
        let child = cmd.spawn().expect("spawn");
        Proc {
            child: Some(child),
            log: log.to_path_buf(),
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        if let Some(pid) = self.pid() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig);
        }
    }

    /// Sends SIGTERM and waits for the exit (SIGKILL after `grace`).
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        let mut child = self.child.take()?;
        let start = Instant::now();
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            if start.elapsed() > grace {
                let _ = child.kill();
                return child.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
