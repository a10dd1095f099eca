//! `mctl version [--client]`.

use crate::output;
use crate::session::Target;
use anyhow::Result;
use machined_proto as pb;

pub async fn run(target: &Target, client_only: bool) -> Result<bool> {
    println!("Client:\n\tTag: {}", env!("CARGO_PKG_VERSION"));
    if client_only {
        return Ok(true);
    }
    let s = target.session()?;
    let call = |node: String| {
        let s = &s;
        async move {
            let v = s
                .machine(&node)
                .await?
                .version(pb::VersionRequest {})
                .await
                .map_err(output::status)?;
            Ok(v.into_inner())
        }
    };
    let show = |node: &str, v: pb::VersionResponse| {
        println!(
            "Server:\n\tNODE: {node}\n\tHostname: {}\n\tTag: {}\n\tOS/Arch: {}/{}\n\tConfigured: {}",
            v.node, v.tag, v.os, v.arch, v.configured
        );
    };
    Ok(s.each(call, show).await)
}
