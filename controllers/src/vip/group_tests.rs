//! A group's runner without etcd or the kernel: one election and one lease
//! for every member; each member's address on its own link's wire; all
//! added on winning and all removed before the one release, whatever the
//! reason to let go.

use super::election_fakes::{eligible, start_group, until, Script};
use super::runner::{Desire, MemberLink};
use machined_resources::config::VipOptions;
use machined_resources::types::VipSpec;
use std::net::IpAddr;
use std::sync::Arc;

const M1: [u8; 6] = [2, 0, 0, 0, 0, 1];
const M2: [u8; 6] = [2, 0, 0, 0, 0, 2];

fn members() -> Vec<VipSpec> {
    [
        ("10.5.0.50", "eth0"),
        ("10.5.0.51", "eth0"),
        ("fd00::50", "eth1"),
    ]
    .into_iter()
    .map(|(ip, link)| VipSpec {
        ip: ip.parse().unwrap(),
        link: link.into(),
        options: VipOptions {
            group: Some("api".into()),
            ..Default::default()
        },
    })
    .collect()
}

fn desire(yes: bool) -> Desire {
    let eth0 = MemberLink {
        link_index: 2,
        mac: Some(M1),
    };
    let eth1 = MemberLink {
        link_index: 3,
        mac: Some(M2),
    };
    Desire {
        members: vec![eth0, eth0, eth1],
        ..eligible(yes)
    }
}

fn held(script: &Script) -> Vec<IpAddr> {
    script.addrs.held.lock().unwrap().iter().copied().collect()
}

#[tokio::test]
async fn a_group_is_won_once_claimed_together_and_let_go_address_first() {
    for reason in ["ineligible", "key deleted", "lease lost"] {
        let script = Arc::new(Script::default());
        let (tx, views) = start_group(&script, members(), desire(true));
        let all: Vec<IpAddr> = members().iter().map(|s| s.ip).collect();
        until("every member's address", || held(&script) == all).await;
        until("every member leading", || {
            views.iter().all(|v| v.view().leading)
        })
        .await;
        // One lease, one campaign; a wire per member on its own link.
        let entries = script.entries();
        assert_eq!(entries[..3], ["connect", "grant", "won"], "{reason}");
        assert_eq!(script.values.lock().unwrap().len(), 1, "{reason}");
        let macs: Vec<_> = script.wires.lock().unwrap().iter().map(|w| w.0).collect();
        assert_eq!(macs, [M1, M1, M2], "{reason}");
        // The group's view names this node as the holder.
        assert_eq!(views[0].view().holder.as_deref(), Some("cp1"));
        match reason {
            "ineligible" => {
                tx.send_replace(desire(false));
            }
            "key deleted" => script.key_deleted.notify_one(),
            _ => script.lease_lost.notify_one(),
        }
        until("the release", || {
            !script.held_at_release.lock().unwrap().is_empty()
        })
        .await;
        assert_eq!(*script.held_at_release.lock().unwrap(), [0], "{reason}");
        assert!(held(&script).is_empty(), "{reason}");
        assert!(views.iter().all(|v| !v.view().leading), "{reason}");
        drop(tx);
    }
}

#[tokio::test]
async fn a_group_puts_its_members_and_notes_other_nodes_lists() {
    let script = Arc::new(Script::default());
    *script.group_note.lock().unwrap() = "the nodes do not list the same members".into();
    let (_tx, views) = start_group(&script, members(), desire(true));
    until("the note", || !views[0].view().group_note.is_empty()).await;
    let all: Vec<IpAddr> = members().iter().map(|s| s.ip).collect();
    assert_eq!(*script.group_members.lock().unwrap(), [all]);
    // A VIP alone puts no list.
    let alone = Arc::new(Script::default());
    let (_tx, views) = super::election_fakes::start(&alone);
    until("the address", || alone.present()).await;
    assert!(alone.group_members.lock().unwrap().is_empty());
    assert!(views.view().group_note.is_empty());
}

#[tokio::test]
async fn a_member_another_session_owns_waits_while_the_rest_are_claimed() {
    let script = Arc::new(Script::default());
    let taken: IpAddr = "10.5.0.51".parse().unwrap();
    script.owners.lock().unwrap().insert(taken, "cp2".into());
    let (_tx, views) = start_group(&script, members(), desire(true));
    let rest: Vec<IpAddr> = ["10.5.0.50", "fd00::50"]
        .iter()
        .map(|i| i.parse().unwrap())
        .collect();
    until("the members nobody else owns", || held(&script) == rest).await;
    until("the wait named", || {
        views[1].view().waiting.contains("held by cp2")
    })
    .await;
    assert!(!views[1].view().leading);
    // The other session's lease goes: the member is claimed too.
    script.owners.lock().unwrap().clear();
    until("every member", || held(&script).len() == 3).await;
    until("the wait over", || views[1].view().waiting.is_empty()).await;
}
