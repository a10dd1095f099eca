//! etcd's output: stdout and stderr share one pipe, read here into the
//! `etcd` log ring (`mctl logs etcd`) and appended to `etcd.log`, which is
//! rotated (one old file kept) at [`ROTATE_AT`] bytes.

use machined_telemetry::logs::{ring, RingWriter};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use tokio::io::AsyncReadExt;

pub const ROTATE_AT: u64 = 16 << 20;

/// The write end goes to etcd (twice: stdout and stderr); the read end to
/// [`capture`].
pub fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(std::io::Error::from)
}

struct LogFile {
    path: PathBuf,
    file: Option<std::fs::File>,
    size: u64,
}

impl LogFile {
    fn open(path: &Path) -> LogFile {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok();
        let size = file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
        LogFile {
            path: path.to_path_buf(),
            file,
            size,
        }
    }

    fn write(&mut self, data: &[u8]) {
        if self.size + data.len() as u64 > ROTATE_AT {
            let old = self.path.with_extension("log.1");
            let _ = std::fs::rename(&self.path, old);
            *self = LogFile::open(&self.path);
        }
        if let Some(f) = &mut self.file {
            if f.write_all(data).is_ok() {
                self.size += data.len() as u64;
            }
        }
    }
}

/// Reads etcd's output until it closes the pipe (it exited).
pub fn capture(read: OwnedFd, log_path: &Path) -> std::io::Result<()> {
    let mut rx = tokio::net::unix::pipe::Receiver::from_owned_fd(read)?;
    let mut file = LogFile::open(log_path);
    let lines = ring("etcd");
    tokio::spawn(async move {
        let mut w = lines.map(RingWriter::new);
        let mut buf = vec![0u8; 16 << 10];
        loop {
            match rx.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if let Some(w) = &mut w {
                        let _ = w.write_all(&buf[..n]);
                    }
                    file.write(&buf[..n]);
                }
            }
        }
    });
    Ok(())
}
