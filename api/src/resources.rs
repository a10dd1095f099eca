//! ResourceService: get, list, watch.

use crate::auth::{check, Need};
use futures::Stream;
use machined_client::convert::to_proto;
use machined_proto as pb;
use machined_resources::registry::{self, Definition};
use machined_resources::{EventKind, State};
use std::pin::Pin;
use tonic::{Request, Response, Status};

#[derive(Clone)]
pub struct ResourceApi {
    state: State,
    node: String,
}

impl ResourceApi {
    pub fn new(state: State, node: String) -> Self {
        ResourceApi { state, node }
    }
}

fn resolve_for<T>(
    req: &Request<T>,
    state: &State,
    type_: &str,
    namespace: &str,
) -> Result<(&'static Definition, String), Status> {
    let (def, ns) = resolve(type_, namespace)?;
    let need = if def.sensitive {
        Need::Admin
    } else {
        Need::Read
    };
    check(req, state, need)?;
    Ok((def, ns))
}

fn resolve(type_: &str, namespace: &str) -> Result<(&'static Definition, String), Status> {
    let def = registry::lookup(type_).ok_or_else(|| {
        let known: Vec<&str> = registry::definitions()
            .iter()
            .map(|d| d.aliases[0])
            .collect();
        Status::invalid_argument(format!(
            "unknown resource type {type_:?} (known: {})",
            known.join(", ")
        ))
    })?;
    let ns = if namespace.is_empty() {
        def.namespace
    } else {
        namespace
    };
    Ok((def, ns.to_string()))
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchResponse, Status>> + Send>>;

#[tonic::async_trait]
impl pb::resource_service_server::ResourceService for ResourceApi {
    async fn get(&self, req: Request<pb::GetRequest>) -> Result<Response<pb::GetResponse>, Status> {
        let (def, ns) = {
            let r = req.get_ref();
            resolve_for(&req, &self.state, &r.r#type, &r.namespace)?
        };
        let req = req.into_inner();
        let r = self
            .state
            .get(&ns, def.type_, &req.id)
            .ok_or_else(|| Status::not_found(format!("{} {:?} not found", def.type_, req.id)))?;
        Ok(Response::new(pb::GetResponse {
            resource: Some(to_proto(&r)),
            node: self.node.clone(),
        }))
    }

    async fn list(
        &self,
        req: Request<pb::ListRequest>,
    ) -> Result<Response<pb::ListResponse>, Status> {
        let (def, ns) = {
            let r = req.get_ref();
            resolve_for(&req, &self.state, &r.r#type, &r.namespace)?
        };
        Ok(Response::new(pb::ListResponse {
            resources: self
                .state
                .list(&ns, def.type_)
                .iter()
                .map(to_proto)
                .collect(),
            node: self.node.clone(),
        }))
    }

    type WatchStream = WatchStream;

    async fn watch(&self, req: Request<pb::WatchRequest>) -> Result<Response<WatchStream>, Status> {
        let (def, ns) = {
            let r = req.get_ref();
            resolve_for(&req, &self.state, &r.r#type, &r.namespace)?
        };
        let req = req.into_inner();
        let watch = self.state.watch(&ns, def.type_);
        let (id, node) = (req.id, self.node.clone());
        let stream =
            futures::stream::unfold(watch, |mut w| async move { w.next().await.map(|e| (e, w)) })
                .filter_map(move |e| {
                    let keep = id.is_empty()
                        || e.kind == EventKind::Bootstrapped
                        || e.resource.as_ref().is_some_and(|r| r.metadata.id == id);
                    let node = node.clone();
                    async move {
                        keep.then(|| {
                            Ok(pb::WatchResponse {
                                event: match e.kind {
                                    EventKind::Created => pb::EventType::Created,
                                    EventKind::Updated => pb::EventType::Updated,
                                    EventKind::Destroyed => pb::EventType::Destroyed,
                                    EventKind::Bootstrapped => pb::EventType::Bootstrapped,
                                } as i32,
                                resource: e.resource.as_ref().map(to_proto),
                                node,
                            })
                        })
                    }
                });
        Ok(Response::new(Box::pin(stream)))
    }
}

use futures::StreamExt;
