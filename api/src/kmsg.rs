//! Reading the kernel log from `/dev/kmsg`: one record per read, from the
//! oldest the kernel still has; non-blocking, so the history ends at
//! EAGAIN and following waits for readability.

use machined_telemetry::kmsg::{parse, Record};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use tokio::io::unix::AsyncFd;

/// The longest record the kernel writes (a read with less room fails).
const RECORD: usize = 8192;

pub struct Kmsg {
    fd: AsyncFd<File>,
    buf: Vec<u8>,
}

/// What one read gave.
enum Got {
    Record(Record),
    /// Not in the expected shape: skipped.
    Skip,
    /// Nothing more for now.
    Empty,
}

impl Kmsg {
    pub fn open() -> std::io::Result<Kmsg> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")?;
        // SAFETY: the File owns its descriptor; nothing else closes or
        // replaces it while the AsyncFd holds it.
        let fd = unsafe { AsyncFd::register(f)? };
        Ok(Kmsg {
            fd,
            buf: vec![0; RECORD],
        })
    }

    fn read_one(&mut self) -> std::io::Result<Got> {
        loop {
            match self.fd.get_ref().read(&mut self.buf) {
                Ok(0) => return Ok(Got::Empty),
                Ok(n) => {
                    return Ok(parse(&self.buf[..n]).map_or(Got::Skip, Got::Record));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(Got::Empty),
                // The record was overwritten while we read: go on.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Every record available now, keeping at most the last `keep`.
    pub fn drain(&mut self, keep: usize) -> std::io::Result<Vec<Record>> {
        let mut out = std::collections::VecDeque::new();
        loop {
            match self.read_one()? {
                Got::Record(r) => {
                    out.push_back(r);
                    if out.len() > keep {
                        out.pop_front();
                    }
                }
                Got::Skip => {}
                Got::Empty => return Ok(out.into()),
            }
        }
    }

    /// Waits for records and returns those available, at most `max` (the
    /// rest come with the next call).
    pub async fn next(&mut self, max: usize) -> std::io::Result<Vec<Record>> {
        loop {
            let mut got = Vec::new();
            while got.len() < max {
                match self.read_one()? {
                    Got::Record(r) => got.push(r),
                    Got::Skip => {}
                    Got::Empty => break,
                }
            }
            if !got.is_empty() {
                return Ok(got);
            }
            let mut ready = self.fd.readable().await?;
            ready.clear_ready();
        }
    }
}
