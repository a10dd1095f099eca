//! etcd's phase and leader changes, as this node sees them, told as
//! events and metrics when the status is written.

use crate::{ControllerError, Ctx};
use machined_resources::types::{EtcdPhase, EtcdStatus};
use std::sync::Mutex;

pub(super) fn report(
    last_leader: &Mutex<String>,
    ctx: &Ctx,
    st: &EtcdStatus,
) -> Result<(), ControllerError> {
    use machined_telemetry::{emit, metrics, Kind};
    const SOURCE: &str = "etcd.ServiceController";
    let old = ctx.get::<EtcdStatus>(EtcdStatus::ID)?.map(|s| s.spec);
    let old_phase = old.as_ref().map(|o| o.phase);
    if old_phase != Some(st.phase) {
        let from = old_phase.map(|p| p.as_str()).unwrap_or("none");
        let explains = matches!(
            st.phase,
            EtcdPhase::Stopped | EtcdPhase::Unhealthy | EtcdPhase::WaitingForBootstrap
        );
        let msg = if st.last_error.is_empty() || !explains {
            format!("etcd {from} -> {}", st.phase.as_str())
        } else {
            format!("etcd {from} -> {}: {}", st.phase.as_str(), st.last_error)
        };
        emit(
            Kind::EtcdPhaseChanged,
            SOURCE,
            &msg,
            &[("from", from), ("to", st.phase.as_str())],
        );
    }
    let has_leader = !st.leader.is_empty() && st.leader != "0";
    let mut last = last_leader.lock().unwrap_or_else(|e| e.into_inner());
    let changed = has_leader && *last != st.leader;
    if changed {
        let name = if st.leader_name.is_empty() {
            &st.leader
        } else {
            &st.leader_name
        };
        emit(
            Kind::EtcdLeaderChanged,
            SOURCE,
            &format!("etcd leader is {name}"),
            &[("leader", name), ("member", &st.leader)],
        );
        // The first leader seen is not a change.
        if !last.is_empty() {
            metrics::get().etcd_leader(true, true);
        }
        *last = st.leader.clone();
    }
    metrics::get().etcd_leader(has_leader, false);
    Ok(())
}
