//! A live migration of a VM on this host, as a hypervisor moves a guest:
//! a second qemu started with `-incoming` from the node's own command line
//! (its `launch.json`), on a new tap on the lab bridge, the same disk and
//! MAC; the running qemu told to `migrate` to it; the old one quits once
//! the move is complete. The guest's clock and state go with it; after the
//! move its kernel announces its link's addresses (the VIP is not one).

use crate::cluster::Cluster;
use crate::netns::ip;
use crate::{wait_for, PATIENCE};
use std::process::{Command, Stdio};
use std::time::Duration;

impl Cluster {
    /// What qemu's monitor on socket `sock` of node `short` answers to
    /// `cmd`: everything up to the prompt after it.
    pub fn monitor_says(&self, short: &str, sock: &str, cmd: &str) -> String {
        use std::io::{Read, Write};
        fn read_until(s: &mut std::os::unix::net::UnixStream, seen: &mut String, prompts: usize) {
            let mut buf = [0u8; 4096];
            for _ in 0..20 {
                if seen.matches("(qemu)").count() >= prompts {
                    return;
                }
                if let Ok(n) = s.read(&mut buf) {
                    seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        }
        let mut s = std::os::unix::net::UnixStream::connect(self.node_dir(short).join(sock))
            .expect("qemu monitor");
        s.set_read_timeout(Some(Duration::from_millis(500))).ok();
        // The banner's prompt, then the command, then the prompt after it.
        let mut seen = String::new();
        read_until(&mut s, &mut seen, 1);
        let _ = s.write_all(format!("{cmd}\n").as_bytes());
        read_until(&mut s, &mut seen, 2);
        seen
    }

    /// Live-migrates control plane `i`'s VM to a new qemu on this host;
    /// returns once the new one runs it and the old one has quit.
    pub fn migrate_vm(&mut self, i: usize) {
        let short = self.cps()[i].0.clone();
        let dir = self.node_dir(&short);
        let launch: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("launch.json")).expect("launch.json"))
                .expect("launch.json parses");
        let lan = self.lan();
        let (old_tap, tap) = (format!("tap-{short}"), format!("tap-{short}-m"));
        ip(&["-n", &lan, "tuntap", "add", "dev", &tap, "mode", "tap"]);
        ip(&["-n", &lan, "link", "set", &tap, "master", "br0"]);
        ip(&["-n", &lan, "link", "set", &tap, "up"]);
        let incoming = dir.join("migrate.sock");
        let _ = std::fs::remove_file(&incoming);
        let mut args: Vec<String> = launch["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str())
            .map(|a| {
                a.replace(&format!("ifname={old_tap},"), &format!("ifname={tap},"))
                    .replace("monitor.sock", "monitor-m.sock")
                    .replace("console.log", "console-m.log")
            })
            .collect();
        args.extend(["-incoming".into(), format!("unix:{}", incoming.display())]);
        let log = std::fs::File::create(dir.join("qemu-m.log")).expect("qemu log");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &lan])
            .arg(launch["bin"].as_str().unwrap_or("qemu-system-x86_64"))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        let mut child = cmd.spawn().expect("start the destination qemu");
        let pid = child.id();
        std::thread::spawn(move || child.wait());
        wait_for("the destination qemu to listen", PATIENCE, || {
            incoming.exists().then_some(())
        });
        let said = self.monitor_says(
            &short,
            "monitor.sock",
            &format!("migrate -d unix:{}", incoming.display()),
        );
        assert!(!said.contains("rror"), "migrate: {said}");
        let mut last = String::new();
        let done = crate::poll_until(Duration::from_secs(120), || {
            last = self.monitor_says(&short, "monitor.sock", "info migrate");
            last.contains("Migration status: completed") || last.contains("failed")
        });
        assert!(
            done && !last.contains("failed"),
            "migration of {short} did not complete: {last}\ndestination: {}",
            std::fs::read_to_string(dir.join("qemu-m.log")).unwrap_or_default()
        );
        let old = self.vm_pid(i);
        self.monitor_says(&short, "monitor.sock", "quit");
        wait_for("the old qemu to quit", PATIENCE, || {
            crate::vm::gone(old).then_some(())
        });
        // From now on the node's monitor and pid are the new qemu's.
        std::fs::rename(dir.join("monitor-m.sock"), dir.join("monitor.sock"))
            .expect("monitor socket");
        if let Some(n) = self.record["nodes"]
            .as_array_mut()
            .and_then(|ns| ns.iter_mut().find(|n| n["name"] == short.as_str()))
        {
            n["pid"] = pid.into();
        }
    }
}
