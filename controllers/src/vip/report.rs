//! What the VIP's runner tells the world besides `VIPStatus`: events in the
//! node's history and the counters behind them, at the moment things
//! happen.

use super::keepalive::LeaseState;
use super::observe::Holder as Observed;
use super::runner::Shared;
use super::shared::LetGo;
use machined_telemetry::{emit, metrics, Kind};
use std::net::IpAddr;
use tokio::sync::watch;

const SOURCE: &str = "network.VIPController";

pub fn acquired(vip: IpAddr) {
    let v = vip.to_string();
    metrics::get().acquired(&v);
    emit(
        Kind::VipAcquired,
        SOURCE,
        &format!("{v} added to the link and announced"),
        &[("vip", &v)],
    );
}

/// The reason word of a release: graceful (machined stopping), fenced,
/// lease-lost, deposed, contested, ineligible, unhealthy, moved, forfeited.
pub fn reason(why: LetGo, ineligible_because: &str) -> &'static str {
    match why {
        LetGo::Fenced => "fenced",
        LetGo::LeaseLost | LetGo::KeyWatchEnded => "lease-lost",
        LetGo::KeyDeleted | LetGo::Unproven => "deposed",
        LetGo::Contested => "contested",
        LetGo::EtcdBack => "etcd-back",
        LetGo::Unpinned => "unpinned",
        LetGo::Unhealthy => "unhealthy",
        LetGo::Moved => "moved",
        LetGo::Ineligible if ineligible_because.starts_with(super::vip_desire::FORFEITED) => {
            "forfeited"
        }
        LetGo::Ineligible if ineligible_because == super::vip_desire::SHUTTING_DOWN => "graceful",
        LetGo::Ineligible => "ineligible",
    }
}

pub fn released(vip: IpAddr, why: LetGo, ineligible_because: &str) {
    let v = vip.to_string();
    let r = reason(why, ineligible_because);
    metrics::get().released(&v, r);
    let detail = if why == LetGo::Ineligible {
        format!("{}: {ineligible_because}", why.as_str())
    } else {
        why.as_str().to_string()
    };
    emit(
        Kind::VipReleased,
        SOURCE,
        &format!("{v} removed from the link ({detail})"),
        &[("vip", &v), ("reason", r)],
    );
}

pub fn pinned(vip: IpAddr, pin: &super::runner::Pin) {
    let v = vip.to_string();
    emit(
        Kind::VipPinned,
        SOURCE,
        &format!(
            "{v} pinned to this node by {} at {} while etcd has no quorum",
            pin.by, pin.at
        ),
        &[("vip", &v), ("by", &pin.by), ("at", &pin.at)],
    );
}

pub fn pin_ended(vip: IpAddr, pin: &super::runner::Pin, why: LetGo) {
    let v = vip.to_string();
    emit(
        Kind::VipPinEnded,
        SOURCE,
        &format!("{v}: the pin by {} ended ({})", pin.by, why.as_str()),
        &[("vip", &v), ("by", &pin.by), ("reason", reason(why, ""))],
    );
}

pub fn holder_changed(vip: IpAddr, from: Option<&str>, to: &str) {
    let v = vip.to_string();
    metrics::get().holder_changed(&v);
    let from = from.unwrap_or("");
    let msg = if from.is_empty() {
        format!("{v} is held by {to}")
    } else {
        format!("{v} moved from {from} to {to}")
    };
    emit(
        Kind::VipHolderChanged,
        SOURCE,
        &msg,
        &[("vip", &v), ("holder", to), ("previous", from)],
    );
}

pub fn revoked(vip: IpAddr, holder: &str) {
    let v = vip.to_string();
    metrics::get().revoked(&v);
    emit(
        Kind::VipHolderRevoked,
        SOURCE,
        &format!("revoked the lease of {holder}, the dead holder of {v}"),
        &[("vip", &v), ("holder", holder)],
    );
}

pub fn claim_delayed(vip: IpAddr, why: &str) {
    let v = vip.to_string();
    metrics::get().claim_delayed(&v);
    emit(
        Kind::VipClaimDelayed,
        SOURCE,
        &format!("not claiming {v} yet: {why}"),
        &[("vip", &v)],
    );
}

/// Sends one announcement on `wire` and records it.
pub fn announce(wire: &dyn super::wire::Wire, vip: IpAddr, shared: &Shared) {
    match wire.announce() {
        Ok(frames) => {
            metrics::get().announced(&vip.to_string(), vip.is_ipv6(), frames);
            shared.update(|s| {
                let n = s.announced.map_or(0, |a| a.1);
                s.announced = Some((std::time::SystemTime::now(), n + frames));
            })
        }
        Err(e) => {
            tracing::warn!(%vip, error = %machined_resources::error::chain(&e), "announcing failed")
        }
    }
}

/// A proof came back (`asked`: the requests it was for).
pub fn proof(vip: IpAddr, p: super::proof::Proof, asked: usize) {
    let m = metrics::get();
    let v = vip.to_string();
    m.proof(&v, p.as_str());
    match p {
        super::proof::Proof::Held => m.arp_answered(&v, asked as u64),
        _ => m.arp_unanswered(&v, asked as u64),
    }
}

/// Another station claimed the VIP while this node held it; `defended`:
/// with proof, so this node announced it again; else it lets go.
pub fn rival(shared: &Shared, vip: IpAddr, mac: crate::kernel::packet::Mac, defended: bool) {
    let v = vip.to_string();
    let who = crate::kernel::packet::format_mac(&mac);
    metrics::get().rival(&v);
    let what = if defended {
        "announced it again (this node holds it, etcd says)"
    } else {
        "letting it go: no proof from etcd that this node holds it"
    };
    let msg = format!("{who} claims {v}; {what}");
    let noted = shared.view().rival.as_ref().map(|r| r.0) == Some(mac);
    if !noted {
        tracing::warn!(vip = %v, rival = %who, defended, "another station claims the VIP");
        emit(
            Kind::VipRival,
            SOURCE,
            &msg,
            &[("vip", &v), ("rival", &who)],
        );
    }
    shared.update(|s| s.rival = Some((mac, std::time::SystemTime::now())));
}

/// A deposed holder is heard again on the link: clients on its side are
/// repointed here.
pub fn deposed_back(vip: IpAddr, node: &str) {
    let v = vip.to_string();
    tracing::info!(vip = %v, node, "the deposed holder is back on the link; announcing again");
    emit(
        Kind::VipRepair,
        SOURCE,
        &format!("{node}, the deposed holder of {v}, is back on the link; announcing {v} again"),
        &[("vip", &v), ("node", node)],
    );
}

/// Records every acknowledged keep-alive of this session's lease for the
/// metrics, until the session ends (dropped) or the lease is lost.
pub async fn keepalives(mut lease: watch::Receiver<LeaseState>, vip: IpAddr) {
    struct Stopped(String);
    impl Drop for Stopped {
        fn drop(&mut self) {
            metrics::get().keepalive_stopped(&self.0);
        }
    }
    let v = Stopped(vip.to_string());
    loop {
        match *lease.borrow_and_update() {
            LeaseState::Acked(at) => metrics::get().keepalive_acked(&v.0, at.into_std()),
            LeaseState::Lost => return,
        }
        if lease.changed().await.is_err() {
            return;
        }
    }
}

/// Reports the observed holder into the view until dropped; a new holder
/// is an event.
pub async fn report_holder(
    mut rx: watch::Receiver<Option<Observed>>,
    shared: &Shared,
    vip: std::net::IpAddr,
) {
    loop {
        let h = rx.borrow_and_update().as_ref().map(|h| h.node.clone());
        note_holder(shared, vip, h);
        if rx.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// Records the holder; a new one (not merely unknown for a while) is an
/// event.
pub fn note_holder(shared: &Shared, vip: std::net::IpAddr, h: Option<String>) {
    let last = shared.view().last_holder.clone();
    if let Some(new) = h.as_deref().filter(|n| Some(*n) != last.as_deref()) {
        holder_changed(vip, last.as_deref(), new);
    }
    shared.update(|v| v.set_holder(h));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_reasons() {
        let cases = [
            (LetGo::Fenced, "", "fenced"),
            (LetGo::LeaseLost, "", "lease-lost"),
            (LetGo::KeyWatchEnded, "", "lease-lost"),
            (LetGo::KeyDeleted, "", "deposed"),
            (LetGo::Unproven, "", "deposed"),
            (LetGo::Contested, "", "contested"),
            (LetGo::Unhealthy, "", "unhealthy"),
            (
                LetGo::Ineligible,
                super::super::vip_desire::SHUTTING_DOWN,
                "graceful",
            ),
            (LetGo::Ineligible, "link eth0 is not up", "ineligible"),
            (LetGo::Moved, "", "moved"),
            (
                LetGo::Ineligible,
                "forfeited until 2026-01-01T00:00:00.000Z (mctl vip forfeit)",
                "forfeited",
            ),
        ];
        for (why, because, want) in cases {
            assert_eq!(reason(why, because), want, "{why:?} {because:?}");
        }
    }
}
