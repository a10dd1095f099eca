//! VIP groups: the VIPs one election runner holds. A group's members (by
//! address; the first leads) share one election, one lease, one watch of the
//! holder and one proof; they are claimed, announced, fenced and let go
//! together. A VIP without a `group:` is a group of one, in the election it
//! always had (`machined/vip/<ip>`), so nodes of an older version agree.
//!
//! Candidates probe only the lead for proof: the holder's proofs cost one
//! etcd read per candidate probe whatever the number of members.

use super::deps::Deps;
use super::holder::Holder;
use super::keepalive::LeaseState;
use super::proof::Confirm;
use super::runner::Shared;
use super::runner::{Desire, MemberLink};
use super::shared::{Cue, LetGo};
use super::wire::Wire;
use futures::FutureExt;
use machined_resources::types::VipSpec;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// The VIPs of one runner, and what each reports.
pub struct Group {
    /// By address; never empty (the first leads: its election, its probes,
    /// its move requests).
    pub specs: Vec<VipSpec>,
    /// One view per member, in the same order; the lead's is the group's
    /// (holder, standby, pin), each member's its own address's (held,
    /// announced, rival).
    pub views: Vec<Arc<Shared>>,
}

impl Group {
    pub fn lead(&self) -> &VipSpec {
        &self.specs[0]
    }

    /// The group's own view (the lead's).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.views[0]
    }

    /// After a runner died: whatever it left in the kernel goes.
    pub fn remove_left(&self, addrs: &dyn crate::kernel::vip_addr::VipAddrs) {
        for (spec, view) in self.specs.iter().zip(&self.views) {
            if let Err(e) = addrs.remove(spec.ip) {
                tracing::warn!(vip = %spec.ip, error = %machined_resources::error::chain(&e), "removing what the last runner left failed");
            }
            view.update(|v| v.leading = false);
        }
    }
}

/// The runner of a spec: its group's, or its own.
pub fn runner_key(spec_id: &str, spec: &VipSpec) -> String {
    match &spec.options.group {
        // Group names have neither '.' nor ':', so never clash with a spec
        // id (`<link>/<ip>`).
        Some(g) => format!("group/{g}"),
        None => spec_id.to_string(),
    }
}

/// The specs by runner, each group's members by address.
pub fn by_runner(specs: &HashMap<String, VipSpec>) -> BTreeMap<String, Vec<VipSpec>> {
    let mut out: BTreeMap<String, Vec<VipSpec>> = BTreeMap::new();
    for (id, spec) in specs {
        out.entry(runner_key(id, spec))
            .or_default()
            .push(spec.clone());
    }
    for members in out.values_mut() {
        members.sort_by(|a, b| a.ip.cmp(&b.ip).then_with(|| a.link.cmp(&b.link)));
    }
    out
}

/// Whether member `i` is the first of `specs` on its link (the one that
/// keeps checking the link's settings while held).
pub fn first_on_link(specs: &[VipSpec], i: usize) -> bool {
    let Some(me) = specs.get(i) else {
        return false;
    };
    !specs[..i].iter().any(|s| s.link == me.link)
}

/// The etcd election of a group, by its lead.
pub fn election(lead: &VipSpec) -> String {
    match &lead.options.group {
        Some(g) => format!("machined/vip-group/{g}"),
        None => super::election_name(&lead.ip),
    }
}

/// Where the candidates of a group post their suspicions of its holder.
pub fn suspects(lead: &VipSpec) -> String {
    match &lead.options.group {
        Some(g) => format!("machined/vip-suspect/group/{g}/"),
        None => format!("machined/vip-suspect/{}/", lead.ip),
    }
}

/// The holders of a group's members, each with the view it reports to.
pub struct Crew(pub Vec<(Holder, Arc<Shared>)>);

/// What a crew's member needs to follow its link's MAC: its index, address,
/// link, and the sender of its wire.
pub type Follow = (
    usize,
    std::net::IpAddr,
    MemberLink,
    watch::Sender<Arc<dyn Wire>>,
);

/// A crew just opened: its holders, their cue receivers, their wires'
/// senders.
pub type Opened = (Crew, Vec<mpsc::Receiver<Cue>>, Vec<Follow>);

impl Group {
    /// A holder per member, each on its member's link (`d`) with a wire of
    /// its own and proof from `confirm`; only the first member on a link
    /// keeps checking the link's settings.
    pub fn crew(
        &self,
        d: &Desire,
        deps: &Deps,
        ttl: std::time::Duration,
        confirm: &Arc<dyn Confirm>,
    ) -> std::io::Result<Opened> {
        let (mut crew, mut cues, mut follows) = (Vec::new(), Vec::new(), Vec::new());
        for (i, (spec, view)) in self.specs.iter().zip(&self.views).enumerate() {
            let link = d.member(i);
            let wire = deps
                .wires
                .open(link.link_index, link.mac.unwrap_or_default(), spec.ip)?;
            let (wire_tx, wire_rx) = watch::channel(wire);
            let (cue, rx) = mpsc::channel(8);
            let mut h = Holder::new(
                spec,
                link.link_index,
                ttl,
                deps.addrs.clone(),
                wire_rx,
                confirm.clone(),
                cue,
            );
            h.keeps_quiet = first_on_link(&self.specs, i);
            crew.push((h, view.clone()));
            cues.push(rx);
            follows.push((i, spec.ip, link, wire_tx));
        }
        Ok((Crew(crew), cues, follows))
    }
}

impl Crew {
    /// Holds every member until `stop`, or the first reason any member has,
    /// says why to let go. Addresses may still be in the kernel after:
    /// [`Crew::remove_confirmed`] must follow.
    pub async fn hold(
        &self,
        lease: &watch::Receiver<LeaseState>,
        stop: impl Future<Output = LetGo>,
        cues: Vec<mpsc::Receiver<Cue>>,
    ) -> LetGo {
        let holds: Vec<_> = self
            .0
            .iter()
            .zip(cues)
            .map(|((h, view), cues)| {
                let mut lease = lease.clone();
                async move { h.hold(&mut lease, std::future::pending(), view, cues).await }.boxed()
            })
            .collect();
        if holds.is_empty() {
            return stop.await;
        }
        tokio::select! {
            why = stop => why,
            (why, _, _) = futures::future::select_all(holds) => why,
        }
    }

    /// Removes every member's address; returns once the kernel confirms
    /// each is gone, and reports each that was held as released (`why`;
    /// `because`: why not eligible).
    pub async fn remove_confirmed(&self, why: LetGo, because: &str) {
        let was_leading: Vec<bool> = self.0.iter().map(|(_, v)| v.view().leading).collect();
        futures::future::join_all(self.0.iter().map(|(h, v)| h.remove_confirmed(v))).await;
        for ((h, _), _) in self.0.iter().zip(was_leading).filter(|(_, l)| *l) {
            super::report::released(h.ip, why, because);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use machined_resources::config::VipOptions;

    fn spec(ip: &str, link: &str, group: Option<&str>) -> VipSpec {
        VipSpec {
            ip: ip.parse().unwrap(),
            link: link.into(),
            options: VipOptions {
                group: group.map(Into::into),
                ..Default::default()
            },
        }
    }

    #[test]
    fn groups_gather_their_members_by_address_and_others_stay_alone() {
        let specs: HashMap<String, VipSpec> = [
            spec("fd00::50", "eth0", Some("api")),
            spec("10.5.0.51", "eth1", Some("api")),
            spec("10.5.0.50", "eth0", Some("api")),
            spec("10.5.0.60", "eth0", None),
            spec("10.5.0.61", "eth0", Some("ingress")),
        ]
        .into_iter()
        .map(|s| (VipSpec::id(&s.link, &s.ip), s))
        .collect();
        let got: Vec<(String, Vec<String>)> = by_runner(&specs)
            .into_iter()
            .map(|(k, m)| (k, m.iter().map(|s| s.ip.to_string()).collect()))
            .collect();
        let want: Vec<(String, Vec<String>)> = vec![
            ("eth0/10.5.0.60".into(), vec!["10.5.0.60".into()]),
            (
                "group/api".into(),
                vec!["10.5.0.50".into(), "10.5.0.51".into(), "fd00::50".into()],
            ),
            ("group/ingress".into(), vec!["10.5.0.61".into()]),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn one_member_per_link_checks_it() {
        let specs = [
            spec("10.5.0.50", "eth0", Some("api")),
            spec("10.5.0.51", "eth0", Some("api")),
            spec("fd00::50", "eth1", Some("api")),
        ];
        let firsts: Vec<bool> = (0..4).map(|i| first_on_link(&specs, i)).collect();
        assert_eq!(firsts, [true, false, true, false]);
    }

    #[test]
    fn a_vip_alone_keeps_its_election_and_a_group_has_its_own() {
        let alone = spec("10.5.0.60", "eth0", None);
        assert_eq!(election(&alone), "machined/vip/10.5.0.60");
        assert_eq!(suspects(&alone), "machined/vip-suspect/10.5.0.60/");
        let grouped = spec("10.5.0.50", "eth0", Some("api"));
        assert_eq!(election(&grouped), "machined/vip-group/api");
        assert_eq!(suspects(&grouped), "machined/vip-suspect/group/api/");
    }
}
