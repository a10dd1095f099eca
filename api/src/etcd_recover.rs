//! Recovery from a snapshot (`mctl bootstrap --recover-from FILE`): where
//! bootstrap would start an empty etcd, the snapshot is streamed in (at
//! most [`MAX_SNAPSHOT`] bytes), restored with etcd's own `etcdctl snapshot
//! restore` into a fresh data directory for this member alone, and the
//! node is marked bootstrapped: etcd starts on the restored data, and the
//! other control planes join it as they would any bootstrapped member.

use crate::auth::{check, Need};
use crate::etcd_api::EtcdApi;
use crate::machine::may_bootstrap;
use crate::store::CONFIG_OWNER;
use futures::StreamExt;
use machined_proto as pb;
use machined_resources::types::EtcdBootstrap;
use std::io::Write;
use std::path::Path;
use tonic::{Request, Response, Status, Streaming};

pub const MAX_SNAPSHOT: u64 = 2 << 30;

fn internal(what: &str, e: impl std::error::Error + 'static) -> Status {
    Status::internal(format!("{what}: {}", machined_resources::error::chain(&e)))
}

/// Receives the snapshot into `path` (whole, or not at all).
async fn receive(mut st: Streaming<pb::EtcdRecoverChunk>, path: &Path) -> Result<u64, Status> {
    let tmp = path.with_extension("part");
    let mut f =
        std::fs::File::create(&tmp).map_err(|e| internal("creating the snapshot file", e))?;
    let mut n = 0u64;
    while let Some(chunk) = st.next().await {
        let chunk = chunk?;
        n += chunk.data.len() as u64;
        if n > MAX_SNAPSHOT {
            let _ = std::fs::remove_file(&tmp);
            return Err(Status::invalid_argument(format!(
                "snapshot: more than {MAX_SNAPSHOT} bytes"
            )));
        }
        f.write_all(&chunk.data)
            .map_err(|e| internal("writing the snapshot", e))?;
    }
    if n == 0 {
        let _ = std::fs::remove_file(&tmp);
        return Err(Status::invalid_argument("snapshot: empty"));
    }
    f.sync_all()
        .map_err(|e| internal("writing the snapshot", e))?;
    std::fs::rename(&tmp, path).map_err(|e| internal("writing the snapshot", e))?;
    Ok(n)
}

pub async fn recover(
    api: &EtcdApi,
    req: Request<Streaming<pb::EtcdRecoverChunk>>,
) -> Result<Response<pb::EtcdRecoverResponse>, Status> {
    check(&req, &api.state, Need::Admin)?;
    may_bootstrap(&api.state, &api.store)?;
    let spec = api.spec()?;
    let ip = spec
        .advertise_ip
        .ok_or_else(|| Status::unavailable("no node address to advertise yet"))?;
    let dir = api
        .store
        .path()
        .parent()
        .map(|p| p.join("etcd"))
        .ok_or_else(|| Status::internal("no state directory"))?;
    std::fs::create_dir_all(&dir).map_err(|e| internal("creating the etcd directory", e))?;
    let snap = dir.join("recover.db");
    let bytes = receive(req.into_inner(), &snap).await?;
    let restored = dir.join("data.restore");
    let _ = std::fs::remove_dir_all(&restored);
    let peer = spec.peer_url(ip);
    let out = tokio::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg("snapshot")
        .arg("restore")
        .arg(&snap)
        .arg("--name")
        .arg(&spec.name)
        .arg("--initial-cluster")
        .arg(format!("{}={peer}", spec.name))
        .arg("--initial-advertise-peer-urls")
        .arg(&peer)
        .arg("--data-dir")
        .arg(&restored)
        .output()
        .await
        .map_err(|e| {
            Status::failed_precondition(format!(
                "running etcdctl (etcd's restore tool, from etcd-client): {}",
                machined_resources::error::chain(&e)
            ))
        })?;
    let _ = std::fs::remove_file(&snap);
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&restored);
        return Err(Status::invalid_argument(format!(
            "the snapshot does not restore: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let data = dir.join("data");
    // Never bootstrapped (checked above): an empty or absent directory.
    let _ = std::fs::remove_dir(&data);
    std::fs::rename(&restored, &data)
        .map_err(|e| internal("moving the restored data in place", e))?;
    api.store
        .mark_bootstrapped()
        .map_err(|e| internal("persisting bootstrap", e))?;
    api.state
        .put(
            CONFIG_OWNER,
            EtcdBootstrap::ID,
            &EtcdBootstrap { requested: true },
        )
        .map_err(|e| Status::internal(machined_resources::error::chain(&e).to_string()))?;
    tracing::info!(bytes, "recovered etcd from a snapshot");
    Ok(Response::new(pb::EtcdRecoverResponse {
        node: api.node.clone(),
        bytes,
    }))
}
