//! `mctl version [--client]`.

use crate::output;
use crate::session::Target;
use anyhow::Result;
use machined_proto as pb;

/// `mctl version`.
#[derive(clap::Args, Debug)]
pub struct VersionArgs {
    /// Client version only.
    #[arg(long)]
    client: bool,
}

impl VersionArgs {
    pub async fn run(self, target: &Target) -> Result<bool> {
        run(target, self.client).await
    }
}

pub async fn run(target: &Target, client_only: bool) -> Result<bool> {
    println!(
        "Client:\n\tTag: {}\n\tSHA: {}\n\tBuilt: {}\n\tOS/Arch: {}/{}",
        env!("CARGO_PKG_VERSION"),
        env!("MACHINED_COMMIT"),
        env!("MACHINED_BUILD_DATE"),
        std::env::consts::OS,
        std::env::consts::ARCH
    );
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
            "Server:\n\tNODE: {node}\n\tHostname: {}\n\tTag: {}\n\tSHA: {}\n\tBuilt: {}\n\tOS/Arch: {}/{}\n\tConfigured: {}",
            v.node, v.tag, v.sha, v.built, v.os, v.arch, v.configured
        );
    };
    Ok(s.each(call, show).await)
}
