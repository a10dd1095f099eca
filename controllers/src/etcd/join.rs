//! Joining a running cluster: find a member, add this node with the member
//! API (replacing a stale member of an earlier life), and tell etcd whom it
//! starts with.

use super::client::{self, Tls};
use crate::ControllerError;
use machined_resources::types::{EtcdMember, EtcdSpec};
use std::net::IpAddr;

/// Finds a running member and adds this node; returns the
/// `--initial-cluster` to start with, or `None` if nobody answers yet.
pub async fn join(
    spec: &EtcdSpec,
    ip: IpAddr,
    tls: Option<&Tls>,
) -> Result<Option<String>, ControllerError> {
    let Some((ep, mut c)) = client::find_running(&spec.join_endpoints, tls).await else {
        return Ok(None);
    };
    let eps = vec![ep];
    let mine = spec.peer_url(ip);
    let mut members = client::members(&mut c, &eps).await?;
    if let Some(m) = members.iter().find(|m| m.peer_urls.contains(&mine)) {
        if !m.name.is_empty() {
            // A member with our URL that once ran, but we have no data:
            // an earlier life of this node. Replace it.
            let id = u64::from_str_radix(&m.id, 16).unwrap_or_default();
            tracing::info!(member = %m.id, "removing stale member with our peer URL");
            c.member_remove(id)
                .await
                .map_err(client::call_error(&eps))?;
            members = Vec::new();
        }
    }
    if !members.iter().any(|m| m.peer_urls.contains(&mine)) {
        tracing::info!(peer_url = %mine, via = %eps[0], "adding this node as an etcd member");
        c.member_add([mine.as_str()], None)
            .await
            .map_err(client::call_error(&eps))?;
        members = client::members(&mut c, &eps).await?;
    }
    let initial = members
        .iter()
        .filter_map(|m| {
            let url = m.peer_urls.first()?;
            let name = if url == &mine {
                spec.name.clone()
            } else if m.name.is_empty() {
                format!("pending-{}", m.id)
            } else {
                m.name.clone()
            };
            Some(format!("{name}={url}"))
        })
        .collect::<Vec<_>>()
        .join(",");
    Ok(Some(initial))
}

/// The node's address moved to `ip`: points this member's peer URL there,
/// through another member if one answers (the local one advertises an
/// address that is gone), else through the local one.
pub async fn readvertise(
    spec: &EtcdSpec,
    member_id: u64,
    ip: IpAddr,
    members: &[EtcdMember],
    tls: Option<&Tls>,
) -> Result<(), client::EtcdError> {
    let own = client::hex(member_id);
    let mut endpoints: Vec<String> = members
        .iter()
        .filter(|m| m.id != own)
        .flat_map(|m| m.client_urls.iter().cloned())
        .collect();
    endpoints.extend(spec.join_endpoints.iter().cloned());
    endpoints.push(spec.local_client_url());
    endpoints.dedup();
    let Some((ep, mut c)) = client::find_running(&endpoints, tls).await else {
        return Err(client::EtcdError::NoAnswer {
            endpoints: endpoints.join(","),
        });
    };
    let url = spec.peer_url(ip);
    tracing::info!(member = %own, peer_url = %url, via = %ep, "re-advertising this etcd member");
    c.member_update(member_id, [url])
        .await
        .map_err(client::call_error(&[ep]))?;
    Ok(())
}
