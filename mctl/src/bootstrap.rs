//! `mctl bootstrap`: a new etcd cluster on exactly one control plane.

use crate::output;
use crate::session::Session;
use anyhow::{bail, Result};
use machined_proto as pb;

pub async fn run(s: &Session) -> Result<bool> {
    if s.targets.len() != 1 {
        bail!(
            "bootstrap exactly one node (got {}): the others join by themselves",
            s.targets.len()
        );
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
