//! Network namespaces that are deleted when dropped, and `ip` helpers.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Runs `ip ARGS`, panicking with its stderr on failure.
pub fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace with a unique name, deleted on drop.
pub struct Netns {
    pub name: String,
    owned: bool,
}

impl Netns {
    /// `tag` makes names readable in `ip netns list` if something leaks.
    pub fn new(tag: &str) -> Self {
        let name = format!(
            "mt{}-{}-{tag}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        ip(&["netns", "add", &name]);
        let ns = Netns { name, owned: true };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// A node and a client namespace joined by a veth (`node_if` <->
    /// `client_if`), each end up with its address (`a.b.c.d/nn`).
    pub fn pair(
        tag: &str,
        node_if: &str,
        node_cidr: &str,
        client_if: &str,
        client_cidr: &str,
    ) -> (Netns, Netns) {
        let node = Netns::new(&format!("{tag}n"));
        let client = Netns::new(&format!("{tag}c"));
        veth(&node, node_if, &client, client_if);
        for (ns, dev, cidr) in [
            (&node, node_if, node_cidr),
            (&client, client_if, client_cidr),
        ] {
            ns.ip(&["addr", "add", cidr, "dev", dev]);
            ns.ip(&["link", "set", dev, "up"]);
        }
        (node, client)
    }

    /// A namespace someone else made and will remove (e.g. a cluster's).
    pub fn borrowed(name: &str) -> Self {
        Netns {
            name: name.to_string(),
            owned: false,
        }
    }

    /// `ip -n NS ARGS`.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut a = vec!["-n", self.name.as_str()];
        a.extend_from_slice(args);
        ip(&a)
    }

    /// Runs a command inside the namespace.
    pub fn exec(&self, cmd: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, cmd])
            .args(args)
            .output()
            .expect("running ip netns exec")
    }

    /// `ip -n NS addr show dev LINK`.
    pub fn addrs(&self, link: &str) -> String {
        self.ip(&["addr", "show", "dev", link])
    }

    /// True if one ping to `addr` is answered within a second.
    pub fn ping(&self, addr: &str) -> bool {
        self.exec("ping", &["-c", "1", "-W", "1", addr])
            .status
            .success()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        // Deleting the namespace removes its veth ends (and their peers).
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A veth pair between two namespaces, with the given names.
pub fn veth(a: &Netns, a_name: &str, b: &Netns, b_name: &str) {
    a.ip(&[
        "link", "add", a_name, "type", "veth", "peer", "name", b_name, "netns", &b.name,
    ]);
}
