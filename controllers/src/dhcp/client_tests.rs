//! The client against a scripted server: every exchange, lost packets and
//! the retransmission timers, with the time passed in.

use super::client::*;
use super::lease::Lease;
use super::wire::{Kind, Outgoing, Reply, ReplyKind};
use std::net::Ipv4Addr;

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
const SERVER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x99];
const ADDR: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 21);
const T0: u64 = 1_700_000_000_000;

fn reply(kind: ReplyKind, xid: u32, lease_secs: u32) -> Reply {
    Reply {
        kind,
        xid,
        yiaddr: if kind == ReplyKind::Nak {
            Ipv4Addr::UNSPECIFIED
        } else {
            ADDR
        },
        server_id: Some(SERVER),
        netmask: Some(Ipv4Addr::new(255, 255, 255, 0)),
        routers: vec![SERVER],
        dns: vec![SERVER],
        hostname: Some("cp1".into()),
        domain: None,
        mtu: None,
        routes: Vec::new(),
        lease_secs: Some(lease_secs),
        t1_secs: None,
        t2_secs: None,
        from_mac: SERVER_MAC,
    }
}

fn sent(actions: &[Action]) -> Vec<Outgoing> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(o) => Some(o.clone()),
            _ => None,
        })
        .collect()
}

fn one_sent(actions: &[Action]) -> Outgoing {
    let s = sent(actions);
    assert_eq!(s.len(), 1, "{actions:?}");
    s[0].clone()
}

/// DORA plus a clean check: the client bound at `T0`, lease of `secs`.
fn bound(secs: u32) -> (Client, Lease) {
    let mut c = Client::new(42);
    let d = one_sent(&c.start(T0, None));
    assert_eq!(d.kind, Kind::Discover);
    let r = one_sent(&c.reply(T0 + 5, reply(ReplyKind::Offer, d.xid, secs)));
    assert_eq!((r.kind, r.xid), (Kind::Request, d.xid));
    assert_eq!((r.requested, r.server_id), (Some(ADDR), Some(SERVER)));
    assert_eq!(r.unicast, None);
    assert_eq!(
        c.reply(T0 + 10, reply(ReplyKind::Ack, r.xid, secs)),
        vec![Action::Check(ADDR)]
    );
    let a = c.checked(T0 + 20, false);
    let [Action::Bind(lease)] = a.as_slice() else {
        panic!("{a:?}")
    };
    (c, lease.clone())
}

#[test]
fn discover_offer_request_ack_check_binds_with_times_from_the_request() {
    let (c, lease) = bound(120);
    assert_eq!(c.state, State::Bound);
    assert_eq!(
        (lease.address, lease.prefix, lease.server),
        (ADDR, 24, SERVER)
    );
    assert_eq!(lease.server_mac, SERVER_MAC);
    // The lease runs from the request (sent at T0 + 5), T1 = 1/2, T2 = 7/8.
    assert_eq!(lease.renew_ms(), T0 + 5 + 60_000);
    assert_eq!(lease.rebind_ms(), T0 + 5 + 105_000);
    assert_eq!(lease.expires_ms(), T0 + 5 + 120_000);
    assert_eq!(c.next_wake(), lease.renew_ms());
}

#[test]
fn lost_discovers_are_retransmitted_with_doubling_backoff_and_the_same_xid() {
    let mut c = Client::new(7);
    let first = one_sent(&c.start(T0, None));
    let mut last = T0;
    let mut gaps = Vec::new();
    for _ in 0..7 {
        let due = c.next_wake();
        assert!(c.tick(due - 1).is_empty(), "nothing before the timer");
        let d = one_sent(&c.tick(due));
        assert_eq!((d.kind, d.xid), (Kind::Discover, first.xid));
        gaps.push(due - last);
        last = due;
    }
    for (i, g) in gaps.iter().enumerate() {
        let base = (FIRST_BACKOFF_MS << i.min(5)).min(MAX_BACKOFF_MS);
        assert!((base..base + 500).contains(g), "gap {i}: {g} ms");
    }
    assert!(gaps[6] < MAX_BACKOFF_MS + 500, "capped: {gaps:?}");
}

#[test]
fn an_unanswered_request_goes_back_to_discovering_with_a_new_xid() {
    let mut c = Client::new(9);
    let d = one_sent(&c.start(T0, None));
    let _ = c.reply(T0, reply(ReplyKind::Offer, d.xid, 120));
    for _ in 1..REQUEST_TRIES {
        let r = one_sent(&c.tick(c.next_wake()));
        assert_eq!(r.kind, Kind::Request);
    }
    let again = one_sent(&c.tick(c.next_wake()));
    assert_eq!(again.kind, Kind::Discover);
    assert_ne!(again.xid, d.xid);
    assert_eq!(c.state, State::Selecting);
}

#[test]
fn answers_for_another_transaction_or_without_a_server_are_ignored() {
    let mut c = Client::new(11);
    let d = one_sent(&c.start(T0, None));
    assert!(c
        .reply(T0, reply(ReplyKind::Offer, d.xid ^ 1, 120))
        .is_empty());
    let mut no_server = reply(ReplyKind::Offer, d.xid, 120);
    no_server.server_id = None;
    assert!(c.reply(T0, no_server).is_empty());
    // An ACK nobody asked for does not bind.
    assert!(c.reply(T0, reply(ReplyKind::Ack, d.xid, 120)).is_empty());
    assert_eq!(c.state, State::Selecting);
}

#[test]
fn renewal_at_t1_is_unicast_and_its_ack_moves_the_times() {
    let (mut c, lease) = bound(120);
    assert!(c.tick(lease.renew_ms() - 1).is_empty());
    let r = one_sent(&c.tick(lease.renew_ms()));
    assert_eq!((r.kind, r.ciaddr), (Kind::Request, ADDR));
    assert_eq!(r.unicast, Some((SERVER, SERVER_MAC)));
    assert_eq!((r.requested, r.server_id), (None, None));
    assert_eq!(c.state, State::Renewing);
    let now = lease.renew_ms() + 30;
    let a = c.reply(now, reply(ReplyKind::Ack, r.xid, 120));
    let [Action::Bind(renewed)] = a.as_slice() else {
        panic!("{a:?}")
    };
    assert_eq!(renewed.acquired_ms, lease.renew_ms());
    assert_eq!(c.next_wake(), lease.renew_ms() + 60_000);
    assert_eq!(c.state, State::Bound);
}

#[test]
fn an_unanswered_renewal_retries_at_half_the_time_left_then_rebinds_then_expires() {
    let (mut c, lease) = bound(120);
    let r1 = one_sent(&c.tick(lease.renew_ms()));
    // T2 is 45 s after T1: the retry comes 22.5 s later.
    assert_eq!(c.next_wake(), lease.renew_ms() + 22_500);
    let r2 = one_sent(&c.tick(c.next_wake()));
    assert_eq!((r2.xid, r2.unicast.is_some()), (r1.xid, true));
    // Retries never come closer than 5 s, and never later than T2.
    while c.state == State::Renewing {
        let due = c.next_wake();
        assert!(due <= lease.rebind_ms());
        let _ = c.tick(due);
    }
    assert_eq!(c.state, State::Rebinding);
    let mut rebinds = 0;
    loop {
        let due = c.next_wake();
        let a = c.tick(due);
        if due >= lease.expires_ms() {
            assert_eq!(a.first(), Some(&Action::Lose("lease expired".into())));
            assert_eq!(one_sent(&a).kind, Kind::Discover);
            break;
        }
        let o = one_sent(&a);
        assert_eq!((o.unicast, o.ciaddr), (None, ADDR), "rebinding broadcasts");
        rebinds += 1;
    }
    assert!(rebinds >= 2, "{rebinds}");
    assert_eq!(c.lease, None);
}

#[test]
fn a_nak_on_renewal_loses_the_address_at_once() {
    let (mut c, lease) = bound(120);
    let r = one_sent(&c.tick(lease.renew_ms()));
    let a = c.reply(lease.renew_ms() + 1, reply(ReplyKind::Nak, r.xid, 0));
    assert!(matches!(a.first(), Some(Action::Lose(why)) if why.contains("NAK")));
    assert_eq!(one_sent(&a).kind, Kind::Discover);
    assert_eq!(c.lease, None);
}

#[test]
fn a_renewal_that_changes_the_address_is_a_loss() {
    let (mut c, lease) = bound(120);
    let r = one_sent(&c.tick(lease.renew_ms()));
    let mut other = reply(ReplyKind::Ack, r.xid, 120);
    other.yiaddr = Ipv4Addr::new(10, 9, 0, 77);
    let a = c.reply(lease.renew_ms() + 1, other);
    assert!(matches!(a.first(), Some(Action::Lose(_))), "{a:?}");
}

#[test]
fn a_conflict_declines_and_starts_over_after_the_wait() {
    let mut c = Client::new(5);
    let d = one_sent(&c.start(T0, None));
    let r = one_sent(&c.reply(T0, reply(ReplyKind::Offer, d.xid, 120)));
    let _ = c.reply(T0, reply(ReplyKind::Ack, r.xid, 120));
    let dec = one_sent(&c.checked(T0 + 1000, true));
    assert_eq!(
        (dec.kind, dec.requested, dec.server_id),
        (Kind::Decline, Some(ADDR), Some(SERVER))
    );
    assert_eq!(c.state, State::Declined);
    assert!(c.last_error.contains("in use"));
    assert!(c.tick(T0 + 1000 + DECLINE_WAIT_MS - 1).is_empty());
    assert_eq!(
        one_sent(&c.tick(T0 + 1000 + DECLINE_WAIT_MS)).kind,
        Kind::Discover
    );
}

#[test]
fn a_saved_lease_is_requested_again_and_an_expired_one_is_not() {
    let (_, lease) = bound(120);
    let mut c = Client::new(3);
    let r = one_sent(&c.start(T0 + 50_000, Some(lease.clone())));
    assert_eq!(
        (r.kind, r.requested, r.server_id),
        (Kind::Request, Some(ADDR), None)
    );
    assert_eq!(c.state.name(), "init-reboot");
    assert_eq!(
        c.reply(T0 + 50_010, reply(ReplyKind::Ack, r.xid, 120)),
        vec![Action::Check(ADDR)]
    );
    assert!(matches!(
        c.checked(T0 + 50_020, false).as_slice(),
        [Action::Bind(_)]
    ));

    // Unanswered: INIT after the reboot tries, no loss (nothing was in use).
    let mut c = Client::new(4);
    let _ = c.start(T0 + 50_000, Some(lease.clone()));
    let _ = c.tick(c.next_wake());
    let a = c.tick(c.next_wake());
    assert_eq!(one_sent(&a).kind, Kind::Discover);
    assert!(!a.iter().any(|x| matches!(x, Action::Lose(_))));

    let mut c = Client::new(6);
    let d = one_sent(&c.start(lease.expires_ms(), Some(lease)));
    assert_eq!(d.kind, Kind::Discover);
}

#[test]
fn release_gives_the_lease_back_to_its_server() {
    let (mut c, _) = bound(120);
    let r = c.release(T0 + 1000).expect("bound");
    assert_eq!(
        (r.kind, r.ciaddr, r.server_id),
        (Kind::Release, ADDR, Some(SERVER))
    );
    assert_eq!(r.unicast, Some((SERVER, SERVER_MAC)));
    assert_eq!(c.release(T0 + 2000), None, "once");
}
