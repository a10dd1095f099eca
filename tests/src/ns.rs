//! Moving the calling thread into a network namespace: sockets it opens then
//! live there, while the rest of the process stays where it is.

use std::path::Path;

pub fn enter(netns: &str) -> std::io::Result<()> {
    let f = std::fs::File::open(Path::new("/run/netns").join(netns))?;
    nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)
}
