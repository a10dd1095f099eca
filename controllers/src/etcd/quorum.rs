//! Whether etcd can decide anything, as this node can tell: a
//! linearizable read through any member. etcd serves one only once its
//! leader has confirmed with a quorum that it still leads, so an answer
//! means the cluster has quorum (and the election decides who holds a VIP);
//! no answer within the bound means none of the members this node reaches
//! could serve one.

use super::client::{self, Tls};
use super::line::Line;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// A member that has not answered within this is joined by the next one.
const PER_TRY: Duration = Duration::from_millis(50);

/// The key read (it need not exist: the read itself is what counts).
const KEY: &str = "machined/quorum";

/// What one look found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quorum {
    /// This member served a linearizable read.
    Answers(String),
    /// No member did within the bound: why (the last error).
    Silent(String),
}

/// Looks through every member; the connection is kept between looks.
pub struct QuorumProbe {
    local: Option<String>,
    endpoints: Vec<String>,
    tls: Option<Tls>,
    line: Mutex<Option<Arc<Line>>>,
}

impl QuorumProbe {
    pub fn new(local: Option<String>, endpoints: Vec<String>, tls: Option<Tls>) -> Self {
        QuorumProbe {
            local,
            endpoints,
            tls,
            line: Mutex::new(None),
        }
    }

    /// One look, all of it within `within`.
    pub async fn look(&self, within: Duration) -> Quorum {
        match tokio::time::timeout(within, self.read(within)).await {
            Ok(q) => q,
            Err(_) => Quorum::Silent(format!(
                "no member served a linearizable read within {} ms",
                within.as_millis()
            )),
        }
    }

    async fn read(&self, within: Duration) -> Quorum {
        let line = {
            let mut slot = self.line.lock().await;
            match slot.as_ref() {
                Some(l) => l.clone(),
                None => {
                    let first = client::connect_first(
                        self.local.as_deref(),
                        &self.endpoints,
                        self.tls.as_ref(),
                    )
                    .await;
                    match first {
                        Ok(first) => {
                            let l = Line::new(first, &self.endpoints, self.tls.clone());
                            *slot = Some(l.clone());
                            l
                        }
                        Err(e) => {
                            return Quorum::Silent(format!(
                                "no member reachable: {}",
                                machined_resources::error::chain(&e)
                            ))
                        }
                    }
                }
            }
        };
        // No options: etcd's default read is linearizable.
        let r = line
            .call(
                PER_TRY,
                within,
                |mut c| async move { c.get(KEY, None).await },
            )
            .await;
        match r {
            Ok(_) => Quorum::Answers(line.endpoint(line.preferred()).to_string()),
            Err(e) => Quorum::Silent(machined_resources::error::chain(&e).to_string()),
        }
    }
}
