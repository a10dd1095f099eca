//! `mctl etcd ...`: the etcd cluster as a node's member sees it, and the
//! changes an admin makes to it (refused when they would cost quorum,
//! unless `--force`).

use crate::output;
use crate::session::Session;
use anyhow::{Context, Result};
use futures::StreamExt;
use machined_proto as pb;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum EtcdCmd {
    /// The members, as the node's etcd lists them.
    Members,
    /// Each member's status, asked of each member: DB size, leader, raft
    /// index and term, errors.
    Status,
    /// The node's member leaves the cluster cleanly; etcd stops and its data
    /// goes; the node stays out until `mctl etcd join`.
    Leave {
        /// Even when the cluster would lose quorum.
        #[arg(long)]
        force: bool,
    },
    /// The node (which left) joins the cluster again as a new member.
    Join,
    /// Removes a member (by id, as `mctl etcd members` shows it).
    RemoveMember {
        /// The member's id (hex, as `mctl etcd members` shows it).
        id: String,
        /// Even when the cluster would lose quorum.
        #[arg(long)]
        force: bool,
    },
    /// Moves etcd leadership away from the node's member, if it leads.
    ForfeitLeadership,
    /// Writes a snapshot of the etcd database to FILE.
    Snapshot {
        /// Where to write the snapshot.
        file: PathBuf,
    },
}

fn row(cells: &[String], widths: &[usize]) -> String {
    let mut s = String::new();
    for (c, w) in cells.iter().zip(widths) {
        s.push_str(&format!("{c:<w$}  "));
    }
    s.trim_end().to_string()
}

pub async fn run(s: &Session, cmd: EtcdCmd) -> Result<bool> {
    match cmd {
        EtcdCmd::Members => {
            let w = [12, 18, 20, 28, 28, 7];
            println!("{}", row(&["NODE", "ID", "NAME", "PEER URLS", "CLIENT URLS", "LEARNER"].map(String::from), &w));
            Ok(s.each(
                |node| async move {
                    let r = s.etcd(&node).await?.members(pb::EtcdMembersRequest {}).await.map_err(output::status)?;
                    Ok(r.into_inner().members)
                },
                |node, ms| {
                    for m in ms {
                        println!("{}", row(&[node.to_string(), m.id, m.name, m.peer_urls.join(","), m.client_urls.join(","), m.learner.to_string()], &w));
                    }
                },
            )
            .await)
        }
        EtcdCmd::Status => {
            let w = [12, 18, 20, 10, 18, 11, 10];
            println!("{}", row(&["NODE", "MEMBER", "NAME", "DB SIZE", "LEADER", "RAFT INDEX", "RAFT TERM", "ERRORS"].map(String::from), &w));
            Ok(s.each(
                |node| async move {
                    let r = s.etcd(&node).await?.status(pb::EtcdStatusRequest {}).await.map_err(output::status)?;
                    Ok(r.into_inner().members)
                },
                |node, ms| {
                    for m in ms {
                        let size = if !m.errors.is_empty() {
                            "-".to_string()
                        } else if m.db_size < 1 << 20 {
                            format!("{:.0} KiB", m.db_size as f64 / 1024.0)
                        } else {
                            format!("{:.1} MiB", m.db_size as f64 / 1048576.0)
                        };
                        println!("{}  {}", row(&[node.to_string(), m.id, m.name, size, m.leader, m.raft_index.to_string(), m.raft_term.to_string()], &w), m.errors.join("; "));
                    }
                },
            )
            .await)
        }
        EtcdCmd::Leave { force } => Ok(s.each(
            |node| async move {
                s.etcd(&node).await?.leave(pb::EtcdLeaveRequest { force }).await.map_err(output::status)?;
                Ok(())
            },
            |node, ()| println!("{node}: left the etcd cluster; etcd stopped and its data removed (mctl etcd join to come back)"),
        )
        .await),
        EtcdCmd::Join => Ok(s.each(
            |node| async move {
                s.etcd(&node).await?.join(pb::EtcdJoinRequest {}).await.map_err(output::status)?;
                Ok(())
            },
            |node, ()| println!("{node}: joining the etcd cluster again"),
        )
        .await),
        EtcdCmd::RemoveMember { id, force } => Ok(s.each(
            |node| {
                let id = id.clone();
                async move {
                    s.etcd(&node).await?.remove_member(pb::EtcdRemoveMemberRequest { id, force }).await.map_err(output::status)?;
                    Ok(())
                }
            },
            |node, ()| println!("{node}: member {id} removed"),
        )
        .await),
        EtcdCmd::ForfeitLeadership => Ok(s.each(
            |node| async move {
                let r = s.etcd(&node).await?.forfeit_leadership(pb::EtcdForfeitLeadershipRequest {}).await.map_err(output::status)?;
                Ok(r.into_inner().leader)
            },
            |node, leader| println!("{node}: etcd leader is {leader}"),
        )
        .await),
        EtcdCmd::Snapshot { file } => {
            let node = s.targets.first().cloned().context("no node")?;
            let mut st = s.etcd(&node).await?.snapshot(pb::EtcdSnapshotRequest {}).await.map_err(output::status)?.into_inner();
            let tmp = file.with_extension("part");
            let mut f = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
            let mut n = 0usize;
            while let Some(chunk) = st.next().await {
                let chunk = chunk.map_err(output::status)?;
                f.write_all(&chunk.data)?;
                n += chunk.data.len();
            }
            f.sync_all()?;
            std::fs::rename(&tmp, &file)?;
            println!("{node}: snapshot of {n} bytes written to {}", file.display());
            Ok(true)
        }
    }
}
