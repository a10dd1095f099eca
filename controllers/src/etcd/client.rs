//! Talking to etcd: connecting with bounded timeouts, members, health.

use etcd_client::{Certificate, Client, ConnectOptions, GetOptions, Identity, TlsOptions};
use machined_resources::types::EtcdMember;
use std::time::Duration;

/// Every call below is bounded by this.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(2);

/// An etcd call that failed, with the members it was sent to.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    #[error("etcd at {endpoints}")]
    Call {
        endpoints: String,
        #[source]
        source: etcd_client::Error,
    },
    #[error("etcd at {endpoints}: no answer within {after:?}")]
    Timeout { endpoints: String, after: Duration },
    #[error("etcd: no endpoints to try")]
    NoEndpoints,
    #[error("etcd: no member answers at {endpoints}")]
    NoAnswer { endpoints: String },
    #[error("etcd at {endpoints}: no leader (quorum lost?)")]
    NoLeader { endpoints: String },
}

/// The error of a call to `endpoints`.
pub fn call_error(endpoints: &[String]) -> impl FnOnce(etcd_client::Error) -> EtcdError {
    let endpoints = endpoints.join(",");
    move |source| EtcdError::Call { endpoints, source }
}

async fn bounded<T>(
    endpoints: &[String],
    f: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, EtcdError> {
    match tokio::time::timeout(RPC_TIMEOUT, f).await {
        Ok(r) => r.map_err(call_error(endpoints)),
        Err(_) => Err(EtcdError::Timeout {
            endpoints: endpoints.join(","),
            after: RPC_TIMEOUT,
        }),
    }
}

/// Client TLS material for etcd: its CA and our client certificate (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub ca: String,
    pub cert: String,
    pub key: String,
}

impl Tls {
    pub fn client(c: &machined_resources::types::EtcdCerts) -> Tls {
        Tls {
            ca: c.ca_pem.clone(),
            cert: c.client_cert_pem.clone(),
            key: c.client_key_pem.clone(),
        }
    }
}

/// HTTP/2 pings on an otherwise quiet connection. Slow on purpose: every
/// connection carries its own liveness traffic (health checks each second,
/// lease keep-alives every TTL/6, each with a deadline), so pings only find
/// a connection that went silent; at 1 s they were a sixth of an idle
/// candidate's wake-ups.
const PING_EVERY: Duration = Duration::from_secs(5);
const PING_TIMEOUT: Duration = Duration::from_secs(2);

fn options(tls: Option<&Tls>) -> ConnectOptions {
    let o = ConnectOptions::new()
        .with_connect_timeout(RPC_TIMEOUT)
        .with_keep_alive(PING_EVERY, PING_TIMEOUT)
        .with_keep_alive_while_idle(true);
    match tls {
        Some(t) => o.with_tls(
            TlsOptions::new()
                .ca_certificate(Certificate::from_pem(&t.ca))
                .identity(Identity::from_pem(&t.cert, &t.key)),
        ),
        None => o,
    }
}

/// A client whose every request is bounded by [`RPC_TIMEOUT`].
pub async fn connect(endpoints: &[String], tls: Option<&Tls>) -> Result<Client, EtcdError> {
    let opts = options(tls).with_timeout(RPC_TIMEOUT);
    bounded(endpoints, Client::connect(endpoints, Some(opts))).await
}

/// A client for long calls (campaign, observe, watch, keep-alive streams):
/// no per-request deadline; callers bound what must be bounded.
pub async fn connect_streaming(
    endpoints: &[String],
    tls: Option<&Tls>,
) -> Result<Client, EtcdError> {
    bounded(endpoints, Client::connect(endpoints, Some(options(tls)))).await
}

/// How long this node's own member gets to answer before others are tried.
const LOCAL_FIRST: Duration = Duration::from_millis(300);

/// A streaming client on one member that answers: `local` (this node's own)
/// if it answers a status request quickly, else whichever of `endpoints`
/// answers first. One member per client on purpose: a client balanced over
/// several keeps sending requests to a dead member ("tcp connect error")
/// instead of avoiding it; and a session on the local member is not broken
/// by another node stopping its etcd.
pub async fn connect_first(
    local: Option<&str>,
    endpoints: &[String],
    tls: Option<&Tls>,
) -> Result<(String, Client), EtcdError> {
    if let Some(l) = local {
        let one = vec![l.to_string()];
        let quick = async {
            let mut c = connect_streaming(&one, tls).await?;
            c.status().await.map_err(call_error(&one))?;
            Ok::<_, EtcdError>(c)
        };
        if let Ok(Ok(c)) = tokio::time::timeout(LOCAL_FIRST, quick).await {
            return Ok((l.to_string(), c));
        }
    }
    let tries = endpoints
        .iter()
        .filter(|e| Some(e.as_str()) != local)
        .map(|e| {
            Box::pin(async move {
                let one = vec![e.clone()];
                let mut c = connect_streaming(&one, tls).await?;
                bounded(&one, c.status()).await?;
                Ok::<_, EtcdError>((e.clone(), c))
            })
        });
    let mut pending: Vec<_> = tries.collect();
    let mut last = EtcdError::NoEndpoints;
    while !pending.is_empty() {
        let (r, _, rest) = futures::future::select_all(pending).await;
        match r {
            Ok(found) => return Ok(found),
            Err(e) => last = e,
        }
        pending = rest;
    }
    Err(last)
}

pub fn hex(id: u64) -> String {
    format!("{id:x}")
}

pub async fn members(c: &mut Client, endpoints: &[String]) -> Result<Vec<EtcdMember>, EtcdError> {
    let r = bounded(endpoints, c.member_list()).await?;
    Ok(r.members()
        .iter()
        .map(|m| EtcdMember {
            id: hex(m.id()),
            name: m.name().to_string(),
            peer_urls: m.peer_urls().to_vec(),
            client_urls: m.client_urls().to_vec(),
            learner: m.is_learner(),
        })
        .collect())
}

/// One of `endpoints` with a member answering, and its client. All are
/// tried at once (an unreachable one costs a connect timeout).
pub async fn find_running(endpoints: &[String], tls: Option<&Tls>) -> Option<(String, Client)> {
    let tries = endpoints.iter().map(|e| {
        Box::pin(async move {
            let one = vec![e.clone()];
            let mut c = connect(&one, tls).await.ok()?;
            members(&mut c, &one).await.ok()?;
            Some((e.clone(), c))
        })
    });
    let mut pending: Vec<_> = tries.collect();
    while !pending.is_empty() {
        let (r, _, rest) = futures::future::select_all(pending).await;
        if r.is_some() {
            return r;
        }
        pending = rest;
    }
    None
}

/// What a health check learns.
pub struct Health {
    pub member_id: u64,
    pub leader: u64,
    pub members: Vec<EtcdMember>,
}

/// Healthy means: the member answers and the cluster has quorum (a
/// linearizable read succeeds).
pub async fn health(c: &mut Client, endpoints: &[String]) -> Result<Health, EtcdError> {
    let st = bounded(endpoints, c.status()).await?;
    let member_id = st.header().map(|h| h.member_id()).unwrap_or_default();
    if st.leader() == 0 {
        return Err(EtcdError::NoLeader {
            endpoints: endpoints.join(","),
        });
    }
    bounded(
        endpoints,
        c.get("machined/health", Some(GetOptions::new().with_count_only())),
    )
    .await?;
    let members = members(c, endpoints).await?;
    Ok(Health {
        member_id,
        leader: st.leader(),
        members,
    })
}
