//! `mctl health`: the node runs the cluster checks (etcd on every control
//! plane, members consistent, members are control planes and none on a
//! VIP, one agreed VIP holder with the address), printed as they pass; then
//! mctl checks from here that each VIP answers.

use crate::output;
use crate::session::Session;
use anyhow::{bail, Context, Result};
use futures::StreamExt;
use machined_client::client;
use machined_proto as pb;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct HealthArgs {
    /// Control-plane node addresses (default: the etcd members').
    #[arg(long, value_delimiter = ',')]
    pub control_plane_nodes: Vec<String>,
    /// How long to wait for the cluster to become healthy.
    #[arg(long, default_value = "5m", value_parser = crate::vip::parse_duration)]
    pub wait_timeout: Duration,
}

pub async fn run(s: &Session, a: HealthArgs) -> Result<bool> {
    let node = s
        .targets
        .first()
        .cloned()
        .context("no node to run the checks on")?;
    let deadline = Instant::now() + a.wait_timeout;
    let mut st = s
        .health(&node)
        .await?
        .check(pb::HealthCheckRequest {
            control_planes: a.control_plane_nodes.clone(),
            timeout_secs: u32::try_from(a.wait_timeout.as_secs()).unwrap_or(u32::MAX),
        })
        .await
        .map_err(output::status)?
        .into_inner();
    let mut failed = false;
    while let Some(p) = st.next().await {
        let p = p.map_err(output::status)?;
        match p.state.as_str() {
            "ok" => println!("{node}: waiting for {}: OK ({})", p.check, p.message),
            "failed" => {
                println!("{node}: waiting for {}: FAILED: {}", p.check, p.message);
                failed = true;
            }
            _ => println!("{node}: waiting for {}: {}", p.check, p.message),
        }
    }
    if failed {
        return Ok(false);
    }
    // From the caller's side: every VIP answers the API.
    let vips: Vec<String> = {
        let mut c = s.resources(&node).await?;
        let r = c
            .list(pb::ListRequest {
                r#type: "VIPStatus".into(),
                namespace: String::new(),
            })
            .await
            .map_err(output::status)?;
        r.into_inner()
            .resources
            .iter()
            .filter_map(|r| r.metadata.as_ref().map(|m| m.id.clone()))
            .collect()
    };
    for vip in vips {
        loop {
            let answer = async {
                let ch = client::connect(&vip, &s.creds).await?;
                client::machine(client::direct(ch))
                    .version(pb::VersionRequest {})
                    .await
                    .map_err(output::status)?;
                anyhow::Ok(())
            };
            let last = match tokio::time::timeout(Duration::from_secs(3), answer).await {
                Ok(Ok(())) => {
                    println!("here: waiting for the VIP {vip} to answer from this side: OK");
                    break;
                }
                Ok(Err(e)) => crate::output::chain(&e),
                Err(_) => "no answer within 3 s".to_string(),
            };
            if Instant::now() > deadline {
                bail!("the VIP {vip} does not answer from here: {last}");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    Ok(true)
}
