//! The `quorum` trial: a pin is refused while etcd has quorum; the
//! holder's two peers lose their etcd members (SIGSTOP: hung, their
//! machined alive and competing), the VIP goes quiet with nobody able to
//! prove anything; an operator pins it on the holder (`mctl vip pin
//! --force`; refused without `--force`), unpins it (the VIP goes quiet
//! again) and pins it again; then the members resume, the pin ends by
//! itself and the election takes over. What counts is the client's view
//! throughout: one voice at a time.

use crate::cluster::Cluster;
use crate::faults::VIP;
use crate::outside::Outside;
use crate::probe::Prober;
use crate::verdict::PinWindow;
use crate::wait_for;
use std::time::{Duration, Instant};

/// What the quorum trial measured.
#[derive(Debug, Clone, Copy)]
pub struct QuorumTimes {
    /// From the members' loss until no kernel had the VIP.
    pub released: Duration,
    /// From the pin command until the pinned node answered.
    pub pinned: Duration,
    /// From the members' return until the pin had ended on its node.
    pub pin_ended: Duration,
    /// From the members' return until the VIP answered after the pin's end.
    pub back: Duration,
    /// The pin, for the client's verdict.
    pub window: PinWindow,
}

pub fn run(c: &Cluster, h: usize, out: &Outside, probe: &Prober) -> QuorumTimes {
    let cps = c.cps();
    let r = c.pin(h, VIP, true);
    assert!(
        !r.ok && r.stderr.contains("etcd has quorum") && r.stderr.contains("vip move"),
        "a pin while etcd has quorum: {}{}",
        r.stdout,
        r.stderr
    );
    let t0 = Instant::now();
    let others: Vec<usize> = (0..cps.len()).filter(|i| *i != h).collect();
    for &i in &others {
        c.hang_etcd(i, true);
    }
    wait_for(
        "the VIP to go quiet without quorum",
        Duration::from_secs(30),
        || (!out.kernels().iter().any(|x| *x)).then_some(()),
    );
    let released = t0.elapsed();
    let r = c.pin(h, VIP, false);
    assert!(
        !r.ok && r.stderr.contains("--force"),
        "a pin without --force: {}{}",
        r.stdout,
        r.stderr
    );
    let pin = |label: &str| {
        let t = Instant::now();
        let r = c.pin(h, VIP, true);
        assert!(r.ok, "vip pin --force: {}{}", r.stdout, r.stderr);
        wait_for(label, Duration::from_secs(60), || {
            (probe.answered_after(t) && out.one_answering_other_than(None) == Some(h)).then_some(())
        });
        t
    };
    pin("the pinned VIP to answer");
    let ip = cps[h].2.as_str();
    let r = c.mctl(&["-n", ip, "vip", "unpin", VIP]);
    assert!(
        r.ok && r.stdout.contains("pin of"),
        "vip unpin: {}{}",
        r.stdout,
        r.stderr
    );
    wait_for("the VIP quiet after unpin", Duration::from_secs(30), || {
        (!out.kernels().iter().any(|x| *x)).then_some(())
    });
    let t1 = pin("the VIP pinned again to answer");
    let pinned = t1.elapsed();
    let st = c
        .vip_status(&cps[h].2)
        .expect("the pinned node's VIPStatus");
    assert!(
        st["pinned"].as_str().is_some_and(|p| p.contains("by ")),
        "VIPStatus does not show the pin: {st}"
    );
    let t2 = Instant::now();
    for &i in &others {
        c.hang_etcd(i, false);
    }
    wait_for(
        "the pin to end once etcd answers",
        Duration::from_secs(60),
        || {
            let st = c.vip_status(&cps[h].2)?;
            st["pinned"]
                .as_str()
                .is_none_or(str::is_empty)
                .then_some(())
        },
    );
    let pin_ended = t2.elapsed();
    let after = Instant::now();
    let window = PinWindow {
        mac: c.macs()[h],
        from: t1,
        to: after,
        returned: t2,
    };
    wait_for(
        "the VIP back after the pin",
        Duration::from_secs(60),
        || {
            (probe.answered_after(after) && out.one_answering_other_than(None).is_some())
                .then_some(())
        },
    );
    let kinds: Vec<String> = c
        .events(&cps[h].2)
        .iter()
        .filter_map(|e| e["kind"].as_str().map(String::from))
        .collect();
    let events = c.events(ip);
    let pins: Vec<_> = events
        .iter()
        .filter(|e| e["kind"] == "vip-pinned")
        .collect();
    assert!(
        pins.len() >= 2
            && pins.iter().all(|e| e["fields"]["by"]
                .as_str()
                .is_some_and(|b| b.contains("os:admin"))),
        "vip-pinned events naming who: {pins:?}"
    );
    let ends: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "vip-pin-ended")
        .filter_map(|e| e["fields"]["reason"].as_str())
        .collect();
    assert!(
        ends.contains(&"unpinned") && ends.contains(&"etcd-back"),
        "vip-pin-ended events: {ends:?} ({kinds:?})"
    );
    QuorumTimes {
        released,
        pinned,
        pin_ended,
        back: t2.elapsed(),
        window,
    }
}
