//! HealthService: the cluster checks `mctl health` asks a node to run,
//! each retried every second until it passes or the wait runs out, with
//! progress streamed as it goes. The node reaches etcd with its etcd client
//! certificate and the other nodes with its own (as a reader on the
//! caller's behalf).

use crate::auth::{check, Need, ON_BEHALF};
use crate::etcd_api::EtcdApi;
use machined_client::client;
use machined_controllers::etcd::client as etcd;
use machined_proto as pb;
use machined_resources::endpoint::Endpoint;
use machined_resources::resource::ResourceSpec;
use machined_resources::types::{AddressStatus, VipSpec, VipStatus};
use machined_resources::State;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

const RETRY: Duration = Duration::from_secs(1);
const MAX_WAIT_SECS: u32 = 3600;

#[derive(Clone)]
pub struct HealthApi {
    state: State,
    node: String,
    etcd: Arc<EtcdApi>,
}

fn host(url: &str) -> String {
    Endpoint::parse(url)
        .map(|e| e.host.to_string())
        .unwrap_or_default()
}

type Outcome = Result<String, String>;

impl HealthApi {
    pub fn new(state: State, node: String, etcd: Arc<EtcdApi>) -> Self {
        HealthApi { state, node, etcd }
    }

    fn vips(&self) -> Vec<String> {
        self.state
            .list_typed::<VipSpec>()
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.spec.ip.to_string())
            .collect()
    }

    async fn etcd_healthy(&self, cps: &[String]) -> Outcome {
        let seen = self
            .etcd
            .survey()
            .await
            .map_err(|e| e.message().to_string())?;
        let bad: Vec<String> = seen
            .iter()
            .filter_map(|s| {
                s.status
                    .as_ref()
                    .err()
                    .map(|e| format!("{}: {e}", s.member.name))
            })
            .collect();
        if !bad.is_empty() {
            return Err(bad.join("; "));
        }
        if !cps.is_empty() && seen.len() != cps.len() {
            return Err(format!(
                "{} member(s) for {} control plane(s)",
                seen.len(),
                cps.len()
            ));
        }
        Ok(format!("{} member(s), all healthy", seen.len()))
    }

    async fn members_consistent(&self) -> Outcome {
        let seen = self
            .etcd
            .survey()
            .await
            .map_err(|e| e.message().to_string())?;
        let mut lists = Vec::new();
        for s in &seen {
            let url = s.member.client_urls.first().cloned().unwrap_or_default();
            let tls = self.etcd.tls_for_checks();
            let mut c = etcd::connect(std::slice::from_ref(&url), tls.as_ref())
                .await
                .map_err(|e| {
                    format!(
                        "{}: {}",
                        s.member.name,
                        machined_resources::error::chain(&e)
                    )
                })?;
            let ms = etcd::members(&mut c, &[url]).await.map_err(|e| {
                format!(
                    "{}: {}",
                    s.member.name,
                    machined_resources::error::chain(&e)
                )
            })?;
            lists.push((
                s.member.name.clone(),
                ms.into_iter().map(|m| m.id).collect::<BTreeSet<_>>(),
            ));
        }
        let first = lists.first().map(|l| l.1.clone()).unwrap_or_default();
        match lists.iter().find(|l| l.1 != first) {
            Some((name, l)) => Err(format!(
                "{name} lists {} member(s), others {}",
                l.len(),
                first.len()
            )),
            None => Ok(format!("every member lists the same {}", first.len())),
        }
    }

    async fn members_are_control_planes(&self, cps: &[String]) -> Outcome {
        let seen = self
            .etcd
            .survey()
            .await
            .map_err(|e| e.message().to_string())?;
        let vips = self.vips();
        for s in &seen {
            for url in s.member.peer_urls.iter().chain(&s.member.client_urls) {
                let h = host(url);
                if vips.contains(&h) {
                    return Err(format!(
                        "{} is advertised on the VIP {h} ({url})",
                        s.member.name
                    ));
                }
                if !cps.is_empty() && s.member.peer_urls.contains(url) && !cps.contains(&h) {
                    return Err(format!(
                        "{} ({h}) is not one of the control planes",
                        s.member.name
                    ));
                }
            }
        }
        Ok("members are control planes, none on a VIP".into())
    }

    /// `T/id` as node `addr` has it, asked as a reader.
    async fn ask<T: ResourceSpec>(&self, addr: &str, id: &str) -> Result<Vec<T>, String> {
        let creds = crate::proxy::node_creds(&self.state).ok_or("the node has no certificates")?;
        let ch = client::connect(addr, &creds)
            .await
            .map_err(|e| machined_resources::error::chain(&e).to_string())?;
        let mut c = client::resources(client::direct(ch));
        let mut req = tonic::Request::new(pb::ListRequest {
            r#type: T::TYPE.into(),
            namespace: String::new(),
        });
        req.metadata_mut()
            .insert(ON_BEHALF, "os:reader".parse().map_err(|_| "metadata")?);
        let r = tokio::time::timeout(Duration::from_secs(3), c.list(req))
            .await
            .map_err(|_| format!("{addr}: no answer within 3 s"))?
            .map_err(|e| format!("{addr}: {}", e.message()))?;
        Ok(r.into_inner()
            .resources
            .iter()
            .filter_map(machined_client::convert::from_proto)
            .filter(|r| id.is_empty() || r.metadata.id == id)
            .filter_map(|r| serde_json::from_value(r.spec).ok())
            .collect())
    }

    async fn one_holder(&self, cps: &[String], vip: &str) -> Outcome {
        let mut holders = BTreeSet::new();
        let mut holding = Vec::new();
        for addr in cps {
            let st = self.ask::<VipStatus>(addr, vip).await?;
            let st = st
                .first()
                .ok_or(format!("{addr} does not know the VIP {vip}"))?;
            holders.insert(st.holder.clone());
            if st.holding {
                holding.push(addr.clone());
            }
        }
        let names: Vec<&String> = holders.iter().collect();
        match (names.as_slice(), holding.as_slice()) {
            ([one], [addr]) if !one.is_empty() => {
                let addrs = self.ask::<AddressStatus>(addr, "").await?;
                if addrs.iter().any(|a| a.address.addr().to_string() == vip) {
                    Ok(format!("{one} ({addr}) holds {vip} and has it on its link"))
                } else {
                    Err(format!(
                        "{one} ({addr}) says it holds {vip}, but its link does not have it"
                    ))
                }
            }
            (_, h) if h.len() > 1 => Err(format!(
                "{} nodes say they hold {vip}: {}",
                h.len(),
                h.join(", ")
            )),
            _ => Err(format!(
                "the nodes name holder(s) {names:?}, {} node(s) hold {vip}",
                holding.len()
            )),
        }
    }

    /// The control planes: given, else the etcd members' peer hosts.
    async fn control_planes(&self, given: Vec<String>) -> Vec<String> {
        if !given.is_empty() {
            return given;
        }
        let Ok(seen) = self.etcd.survey().await else {
            return Vec::new();
        };
        seen.iter()
            .filter_map(|s| s.member.peer_urls.first().map(|u| host(u)))
            .filter(|h| !h.is_empty())
            .collect()
    }
}

#[tonic::async_trait]
impl pb::health_service_server::HealthService for HealthApi {
    type CheckStream = ReceiverStream<Result<pb::HealthCheckProgress, Status>>;

    async fn check(
        &self,
        req: Request<pb::HealthCheckRequest>,
    ) -> Result<Response<Self::CheckStream>, Status> {
        check(&req, &self.state, Need::Read)?;
        let r = req.into_inner();
        let secs = match r.timeout_secs {
            0 => 300,
            s => s.min(MAX_WAIT_SECS),
        };
        let deadline = Instant::now() + Duration::from_secs(u64::from(secs));
        let me = self.clone();
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            let cps = me.control_planes(r.control_planes).await;
            let say = |check: &str, state: &str, message: String| pb::HealthCheckProgress {
                check: check.into(),
                state: state.into(),
                message,
                node: me.node.clone(),
            };
            let mut checks: Vec<String> = vec![
                "etcd to be healthy on every control plane".into(),
                "etcd members to be consistent across members".into(),
                "etcd members to be control planes, none advertised on a VIP".into(),
            ];
            checks.extend(me.vips().iter().map(|v| {
                format!("one holder of the VIP {v}, agreed by every node, with the address")
            }));
            for (i, name) in checks.iter().enumerate() {
                let mut last = String::new();
                loop {
                    let outcome = match i {
                        0 => me.etcd_healthy(&cps).await,
                        1 => me.members_consistent().await,
                        2 => me.members_are_control_planes(&cps).await,
                        _ => me.one_holder(&cps, &me.vips()[i - 3]).await,
                    };
                    let msg = match outcome {
                        Ok(ok) => {
                            let _ = tx.send(Ok(say(name, "ok", ok))).await;
                            break;
                        }
                        Err(why) => why,
                    };
                    if Instant::now() > deadline {
                        let _ = tx.send(Ok(say(name, "failed", msg))).await;
                        return;
                    }
                    if msg != last
                        && tx
                            .send(Ok(say(name, "waiting", msg.clone())))
                            .await
                            .is_err()
                    {
                        return;
                    }
                    last = msg;
                    tokio::time::sleep(RETRY).await;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}
