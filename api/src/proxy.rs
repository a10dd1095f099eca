//! Endpoints that proxy (Talos's apid model): a call that names another
//! node (`x-machined-node`) is forwarded to that node's API over mutual TLS
//! with this node's own certificate (`os:impersonator`), carrying the
//! caller's roles, which the target enforces: a reader through an admin's
//! endpoint is still a reader. Only a caller with a role may be forwarded,
//! never another node (no chains), and not in maintenance mode. A call
//! that names this node, or none, is served here.

use crate::auth::{ON_BEHALF, ON_BEHALF_NAME};
use machined_client::client::{self, Creds};
use machined_resources::types::{AddressStatus, ApiCerts};
use machined_resources::State;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tonic::body::Body;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::transport::Channel;
use tonic::Status;

use machined_client::client::NODE_HEADER;

#[derive(Clone)]
pub struct ProxyLayer {
    state: State,
    node: String,
}

impl ProxyLayer {
    pub fn new(state: State, node: String) -> Self {
        ProxyLayer { state, node }
    }
}

impl<S> tower::Layer<S> for ProxyLayer {
    type Service = Proxy<S>;
    fn layer(&self, inner: S) -> Proxy<S> {
        Proxy {
            inner,
            state: self.state.clone(),
            node: self.node.clone(),
            channels: Arc::default(),
        }
    }
}

#[derive(Clone)]
pub struct Proxy<S> {
    inner: S,
    state: State,
    node: String,
    /// One connection per target, made on first use.
    channels: Arc<Mutex<HashMap<String, Channel>>>,
}

type Reply = http::Response<Body>;

/// The target named in the call, unless it is this node (by name, by an
/// address it has, or by the address the call came in on).
fn target(state: &State, node: &str, req: &http::Request<Body>) -> Option<String> {
    let t = req
        .headers()
        .get(NODE_HEADER)?
        .to_str()
        .ok()?
        .trim()
        .to_string();
    let host = machined_resources::endpoint::Endpoint::parse(&t)
        .map(|e| e.host.to_string())
        .unwrap_or_else(|_| t.clone());
    let local = req
        .extensions()
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(|i| i.get_ref().local_addr())
        .map(|a| a.ip().to_string());
    let mine = host == node
        || host == "localhost"
        || local.as_deref() == Some(host.as_str())
        || state
            .list_typed::<AddressStatus>()
            .unwrap_or_default()
            .iter()
            .any(|a| a.spec.address.addr().to_string() == host);
    (!mine).then_some(t)
}

/// The caller's roles from its certificate; refused unless it has a role
/// and is not itself a node.
/// The caller's roles and certificate name.
fn caller_roles(req: &http::Request<Body>) -> Result<(Vec<String>, String), Status> {
    let der = req
        .extensions()
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(|i| i.peer_certs())
        .and_then(|c| c.first().map(|d| d.to_vec()))
        .ok_or_else(|| {
            Status::unauthenticated("a client certificate signed by the machine CA is required")
        })?;
    let roles = machined_pki::roles(&der).unwrap_or_default();
    if roles.iter().any(|r| r == machined_pki::ROLE_IMPERSONATOR) {
        return Err(Status::permission_denied(
            "a node's call is not forwarded again",
        ));
    }
    let known: Vec<String> = roles
        .into_iter()
        .filter(|r| machined_pki::ROLES.contains(&r.as_str()))
        .collect();
    if known.is_empty() {
        return Err(Status::permission_denied(
            "no role in the client certificate",
        ));
    }
    let name = machined_pki::common_name(&der)
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(64)
        .collect();
    Ok((known, name))
}

/// This node's credentials for calling other nodes (its own client
/// certificate, `os:impersonator`); none in maintenance mode.
pub fn node_creds(state: &State) -> Option<Creds> {
    let c = state
        .get_typed::<ApiCerts>(ApiCerts::ID)
        .ok()
        .flatten()
        .map(|c| c.spec)
        .filter(|c| !c.client_cert_pem.is_empty())?;
    Some(Creds::Mtls {
        ca_pem: c.ca_pem,
        cert_pem: c.client_cert_pem,
        key_pem: c.client_key_pem,
    })
}

impl<S> Proxy<S> {
    async fn channel(
        state: &State,
        channels: &Mutex<HashMap<String, Channel>>,
        target: &str,
    ) -> Result<Channel, Status> {
        if let Some(c) = channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(target)
        {
            return Ok(c.clone());
        }
        let creds = node_creds(state).ok_or_else(|| {
            Status::failed_precondition("the node is in maintenance mode: it forwards no calls")
        })?;
        let ch = client::connect(target, &creds)
            .await
            .map_err(|e| Status::unavailable(format!("node {target}: {e}")))?;
        channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(target.to_string(), ch.clone());
        Ok(ch)
    }
}

impl<S> tower::Service<http::Request<Body>> for Proxy<S>
where
    S: tower::Service<http::Request<Body>, Response = Reply, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Reply;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Reply, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        let Some(to) = target(&self.state, &self.node, &req) else {
            req.headers_mut().remove(NODE_HEADER);
            return Box::pin(self.inner.call(req));
        };
        let (state, channels) = (self.state.clone(), self.channels.clone());
        Box::pin(async move {
            let forwarded = async {
                let (roles, name) = caller_roles(&req)?;
                let mut ch = Self::channel(&state, &channels, &to).await?;
                req.headers_mut().remove(NODE_HEADER);
                req.headers_mut().remove(ON_BEHALF);
                let v = http::HeaderValue::from_str(&roles.join(","))
                    .map_err(|e| Status::internal(e.to_string()))?;
                req.headers_mut().insert(ON_BEHALF, v);
                req.headers_mut().remove(ON_BEHALF_NAME);
                if let Ok(v) = http::HeaderValue::from_str(&name) {
                    req.headers_mut().insert(ON_BEHALF_NAME, v);
                }
                tower::ServiceExt::ready(&mut ch)
                    .await
                    .map_err(|e| Status::unavailable(format!("node {to}: {e}")))?;
                match tower::Service::call(&mut ch, req).await {
                    Ok(r) => Ok(r),
                    Err(e) => {
                        channels
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&to);
                        Err(Status::unavailable(format!("node {to}: {e}")))
                    }
                }
            };
            Ok(forwarded.await.unwrap_or_else(|s: Status| s.into_http()))
        })
    }
}
