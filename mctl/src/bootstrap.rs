//! `mctl bootstrap [--recover-from FILE]`: a new etcd cluster on exactly one
//! control plane, empty or restored from an `mctl etcd snapshot`.

use crate::output;
use crate::session::Session;
use anyhow::{Context, Result};
use machined_proto as pb;
use std::io::Read;
use std::path::Path;

/// `mctl bootstrap`.
#[derive(clap::Args, Debug)]
pub struct BootstrapArgs {
    /// Restore the cluster from a snapshot (mctl etcd snapshot).
    #[arg(long)]
    recover_from: Option<std::path::PathBuf>,
}

impl BootstrapArgs {
    pub async fn run(self, s: &Session) -> Result<bool> {
        run(s, self.recover_from.as_deref()).await
    }
}

/// Bytes per message of a snapshot sent up.
const CHUNK: usize = 1 << 20;

pub async fn run(s: &Session, recover_from: Option<&Path>) -> Result<bool> {
    s.one_node("bootstrap exactly one node: the others join by themselves")?;
    if let Some(file) = recover_from {
        return recover(s, file).await;
    }
    let call = |node: String| async move {
        s.machine(&node)
            .await?
            .bootstrap(pb::BootstrapRequest {})
            .await
            .map_err(output::status)?;
        Ok(())
    };
    let show = |node: &str, ()| {
        println!("{node}: bootstrap accepted; watch it with: mctl -n {node} get etcdstatus -w");
    };
    Ok(s.each(call, show).await)
}

async fn recover(s: &Session, file: &Path) -> Result<bool> {
    let mut f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut chunks = Vec::new();
    loop {
        let mut buf = vec![0u8; CHUNK];
        let n = f
            .read(&mut buf)
            .with_context(|| format!("reading {}", file.display()))?;
        if n == 0 {
            break;
        }
        buf.truncate(n);
        chunks.push(pb::EtcdRecoverChunk { data: buf });
    }
    let node = s.targets[0].clone();
    let r = s
        .etcd(&node)
        .await?
        .recover(futures::stream::iter(chunks))
        .await
        .map_err(output::status)?
        .into_inner();
    println!(
        "{node}: etcd restored from {} ({} bytes) and bootstrapped; the other control planes join it",
        file.display(),
        r.bytes
    );
    Ok(true)
}
