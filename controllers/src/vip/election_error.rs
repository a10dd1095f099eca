//! Why an election session ended, with its cause kept.

use super::election_value::ValueError;
use super::shared::LetGo;
use crate::etcd::client::EtcdError;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// No etcd member could be reached.
    #[error(transparent)]
    Connect(#[from] EtcdError),
    /// One etcd request failed.
    #[error("{what}")]
    Etcd {
        what: &'static str,
        #[source]
        source: etcd_client::Error,
    },
    #[error("{what}: no answer within {after:?}")]
    Timeout { what: &'static str, after: Duration },
    #[error("link {0} has no MAC address")]
    NoMac(String),
    #[error("opening the link for the VIP")]
    Link(#[source] std::io::Error),
    #[error("this node's election value")]
    OwnValue(#[from] ValueError),
    #[error("lease lost while campaigning")]
    LeaseLost,
    #[error("campaign returned no leader key")]
    NoLeaderKey,
    /// Let go of the VIP (the address is gone), but neither the release
    /// nor the revoke through another member went through: the key stays
    /// until its lease expires.
    #[error("{why}; release: {}; revoke elsewhere", chained(.release))]
    Release {
        why: LetGo,
        release: Box<SessionError>,
        #[source]
        elsewhere: Box<SessionError>,
    },
}

fn chained(e: &SessionError) -> String {
    machined_resources::error::chain(e).to_string()
}

/// Runs one etcd request within `step`.
pub async fn step<T>(
    what: &'static str,
    step: Duration,
    f: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, SessionError> {
    match tokio::time::timeout(step, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(source)) => Err(SessionError::Etcd { what, source }),
        Err(_) => Err(SessionError::Timeout { what, after: step }),
    }
}
