//! A VIP's `VIPStatus` from its runner's views and desire: the group's
//! (holder, standby, pin, errors) with the member's own (held, waiting,
//! announced, rival).

use super::runner::{Desire, Shared, View};
use machined_resources::resource::rfc3339;
use machined_resources::types::{VipHealthStatus, VipSpec, VipStatus};
use std::sync::Arc;

/// What member `i` of a group reports.
pub fn member_view(views: &[Arc<Shared>], i: usize) -> View {
    let Some(group) = views.first() else {
        return View::default();
    };
    let mut v = group.view().clone();
    if let Some(member) = views.get(i).filter(|_| i > 0) {
        let m = member.view();
        v.leading = m.leading;
        v.waiting = m.waiting.clone();
        v.announced = m.announced;
        v.rival = m.rival;
    }
    v
}

/// Why a member is not campaigning or not held, first things first.
fn reason(view: &View, d: &Desire) -> String {
    if !view.pinned.is_empty() {
        String::new()
    } else if !d.eligible {
        d.reason.clone()
    } else if !view.waiting.is_empty() {
        view.waiting.clone()
    } else if !view.standby.is_empty() {
        view.standby.clone()
    } else if !view.health_note.is_empty() {
        view.health_note.clone()
    } else if !view.group_note.is_empty() {
        view.group_note.clone()
    } else {
        view.error.clone()
    }
}

pub fn status(
    spec: &VipSpec,
    view: &View,
    d: &Desire,
    check: Option<VipHealthStatus>,
) -> VipStatus {
    VipStatus {
        ip: spec.ip.to_string(),
        link: spec.link.clone(),
        group: spec.options.group.clone().unwrap_or_default(),
        holder: view.holder.clone().unwrap_or_default(),
        holding: view.leading,
        campaigning: d.eligible && view.standby.is_empty() && view.pinned.is_empty(),
        reason: reason(view, d),
        since: view.since.into(),
        transitions: view.transitions,
        last_announce: view.announced.map(|a| a.0.into()),
        announced_frames: view.announced.map_or(0, |a| a.1),
        health: check.as_ref().map(|c| c.state),
        health_result: check.map(|c| c.last_result).unwrap_or_default(),
        rival: view
            .rival
            .map(|(m, at)| {
                format!(
                    "{} at {}",
                    crate::kernel::packet::format_mac(&m),
                    rfc3339::format(at)
                )
            })
            .unwrap_or_default(),
        pinned: view.pinned.clone(),
    }
}
