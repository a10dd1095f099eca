//! `RouteSpec` → kernel (main table). [`plan_routes`] is pure: it compares
//! the wanted routes with the kernel's and returns the operations. Routes we
//! add carry protocol 109 (`ROUTE_PROTO_MACHINED`); only those are ever
//! removed, so routes the kernel or an admin added are left alone.

use crate::kernel::{KernelRoute, NetDriver};
use crate::{Controller, ControllerError, Ctx, Input, Output, Waker};
use async_trait::async_trait;
use machined_resources::types::{LinkStatus, RouteSpec, ROUTE_PROTO_MACHINED};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteOp {
    Add(KernelRoute),
    Del(KernelRoute),
}

/// The identity of a route in the main table: link, destination, gateway
/// and metric (the preferred source may change in place).
fn same(a: &KernelRoute, b: &KernelRoute) -> bool {
    (a.link_index, a.destination, a.gateway, a.metric)
        == (b.link_index, b.destination, b.gateway, b.metric)
}

/// What to do so that the kernel holds exactly the wanted routes among
/// ours. Removals come first. Specs for links that do not exist are skipped
/// (they are applied when the link appears).
pub fn plan_routes(
    desired: &[RouteSpec],
    links: &HashMap<String, u32>,
    observed: &[KernelRoute],
) -> Vec<RouteOp> {
    let want: Vec<KernelRoute> = desired
        .iter()
        .filter_map(|s| {
            Some(KernelRoute {
                link_index: *links.get(&s.link)?,
                destination: s.destination,
                gateway: s.gateway,
                source: s.source,
                metric: s.metric,
                protocol: ROUTE_PROTO_MACHINED,
            })
        })
        .collect();
    let mut ops: Vec<RouteOp> = observed
        .iter()
        .filter(|r| r.protocol == ROUTE_PROTO_MACHINED)
        .filter(|r| !want.iter().any(|w| same(w, r) && w.source == r.source))
        .map(|r| RouteOp::Del(r.clone()))
        .collect();
    // The kernel keeps one route per (link, destination, gateway, metric):
    // one already there by someone else is in effect and stays theirs.
    ops.extend(
        want.into_iter()
            .filter(|w| {
                !observed.iter().any(|r| {
                    same(w, r) && (r.protocol != ROUTE_PROTO_MACHINED || r.source == w.source)
                })
            })
            .map(RouteOp::Add),
    );
    ops
}

pub struct RouteSpecController {
    pub driver: Arc<dyn NetDriver>,
}

#[async_trait]
impl Controller for RouteSpecController {
    fn name(&self) -> &'static str {
        "network.RouteSpecController"
    }

    fn inputs(&self) -> Vec<Input> {
        vec![Input::of::<RouteSpec>(), Input::of::<LinkStatus>()]
    }

    fn outputs(&self) -> Vec<Output> {
        Vec::new()
    }

    /// Kernel route events wake us too: a route of ours removed by hand
    /// (or with its address) is put back.
    async fn start(&mut self, waker: Waker) -> Result<(), ControllerError> {
        self.driver.subscribe(waker);
        Ok(())
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let desired: Vec<RouteSpec> = ctx
            .list::<RouteSpec>()?
            .into_iter()
            .map(|s| s.spec)
            .collect();
        let up: HashMap<String, u32> = ctx
            .list::<LinkStatus>()?
            .into_iter()
            .filter(|l| l.spec.is_operational())
            .map(|l| (l.metadata.id, l.spec.index))
            .collect();
        let observed = self.driver.dump_routes().await?;
        for op in plan_routes(&desired, &up, &observed) {
            match op {
                RouteOp::Del(r) => {
                    tracing::info!(destination = %r.destination, gateway = ?r.gateway, link_index = r.link_index, "removing route");
                    self.driver.del_route(&r).await?;
                }
                RouteOp::Add(r) => {
                    tracing::info!(destination = %r.destination, gateway = ?r.gateway, link_index = r.link_index, "adding route");
                    self.driver.add_route(&r).await?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use machined_resources::types::ConfigLayer;

    fn spec(dest: &str, gw: Option<&str>, metric: u32) -> RouteSpec {
        RouteSpec {
            link: "eth0".into(),
            destination: dest.parse().unwrap(),
            gateway: gw.map(|g| g.parse().unwrap()),
            source: None,
            metric,
            layer: ConfigLayer::Configuration,
        }
    }

    fn kernel(dest: &str, gw: Option<&str>, metric: u32, protocol: u8) -> KernelRoute {
        KernelRoute {
            link_index: 2,
            destination: dest.parse().unwrap(),
            gateway: gw.map(|g| g.parse().unwrap()),
            source: None,
            metric,
            protocol,
        }
    }

    /// (name, desired, in the kernel, expected operations)
    type Case = (&'static str, Vec<RouteSpec>, Vec<KernelRoute>, Vec<RouteOp>);

    #[test]
    fn plans_only_what_differs_and_never_touches_others_routes() {
        let links: HashMap<String, u32> = [("eth0".to_string(), 2)].into();
        let ours = ROUTE_PROTO_MACHINED;
        let cases: Vec<Case> = vec![
            (
                "new route added",
                vec![spec("10.9.0.0/24", Some("10.5.0.1"), 0)],
                vec![],
                vec![RouteOp::Add(kernel(
                    "10.9.0.0/24",
                    Some("10.5.0.1"),
                    0,
                    ours,
                ))],
            ),
            (
                "present: nothing",
                vec![spec("0.0.0.0/0", Some("10.5.0.1"), 100)],
                vec![kernel("0.0.0.0/0", Some("10.5.0.1"), 100, ours)],
                vec![],
            ),
            (
                "ours no longer wanted: removed",
                vec![],
                vec![kernel("10.9.0.0/24", Some("10.5.0.1"), 0, ours)],
                vec![RouteOp::Del(kernel(
                    "10.9.0.0/24",
                    Some("10.5.0.1"),
                    0,
                    ours,
                ))],
            ),
            (
                "kernel's and admin's routes stay",
                vec![],
                vec![
                    kernel("10.5.0.0/24", None, 0, 2),
                    kernel("10.8.0.0/24", Some("10.5.0.1"), 0, 3),
                ],
                vec![],
            ),
            (
                "the same route added by hand: in effect, left theirs",
                vec![spec("10.9.0.0/24", Some("10.5.0.1"), 0)],
                vec![kernel("10.9.0.0/24", Some("10.5.0.1"), 0, 4)],
                vec![],
            ),
            (
                "gateway changed: old removed first",
                vec![spec("10.9.0.0/24", Some("10.5.0.2"), 0)],
                vec![kernel("10.9.0.0/24", Some("10.5.0.1"), 0, ours)],
                vec![
                    RouteOp::Del(kernel("10.9.0.0/24", Some("10.5.0.1"), 0, ours)),
                    RouteOp::Add(kernel("10.9.0.0/24", Some("10.5.0.2"), 0, ours)),
                ],
            ),
            (
                "link missing or down: skipped",
                vec![RouteSpec {
                    link: "eth9".into(),
                    ..spec("10.9.0.0/24", Some("10.5.0.1"), 0)
                }],
                vec![],
                vec![],
            ),
        ];
        for (name, desired, observed, want) in cases {
            assert_eq!(plan_routes(&desired, &links, &observed), want, "{name}");
        }
    }
}
