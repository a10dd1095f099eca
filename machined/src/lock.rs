//! One machined per node: an exclusive lock on the state directory, held for
//! the life of the process (the kernel drops it when the process dies, however
//! it dies), so a second copy cannot fight the first over the VIP.

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;

pub struct StateLock(#[allow(dead_code)] Flock<File>);

/// Takes the lock or says who holds it.
pub fn take(state_dir: &Path) -> Result<StateLock> {
    let path = state_dir.join("machined.lock");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err((mut f, Errno::EWOULDBLOCK)) => {
            let mut pid = String::new();
            let _ = f.read_to_string(&mut pid);
            bail!(
                "another machined (pid {}) already runs with state directory {}",
                pid.trim(),
                state_dir.display()
            );
        }
        Err((_, e)) => bail!("locking {}: {e}", path.display()),
    };
    lock.set_len(0)?;
    lock.rewind()?;
    write!(lock, "{}", std::process::id())?;
    Ok(StateLock(lock))
}
