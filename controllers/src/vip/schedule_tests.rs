use super::*;

const MS: fn(u64) -> Duration = Duration::from_millis;

fn announce(count: u32, interval_ms: u64, refresh_ms: u64) -> Announce {
    Announce {
        count,
        interval_ms,
        refresh_ms,
    }
}

/// Runs the schedule from `t0` for `until` ms, sending every announcement
/// as soon as it is due (polling each ms); returns the ms offsets sent.
fn run(s: &mut Schedule, t0: Instant, from: u64, until: u64) -> Vec<u64> {
    let mut sent = Vec::new();
    for ms in from..until {
        let now = t0 + MS(ms);
        if s.due(now) {
            s.sent(now);
            sent.push(ms);
        }
    }
    sent
}

#[test]
fn a_burst_then_the_refresh() {
    let t0 = Instant::now();
    let mut s = Schedule::new(t0, &announce(3, 100, 1000));
    assert_eq!(run(&mut s, t0, 0, 2500), vec![0, 100, 200, 1200, 2200]);
    let mut quiet = Schedule::new(t0, &announce(2, 20, 0));
    assert_eq!(run(&mut quiet, t0, 0, 5000), vec![0, 20], "no refresh");
}

#[test]
fn a_repair_is_a_burst_and_two_late_announcements() {
    let t0 = Instant::now();
    let mut s = Schedule::new(t0, &announce(3, 100, 0));
    run(&mut s, t0, 0, 1000);
    s.repair(t0 + MS(1000));
    assert_eq!(
        run(&mut s, t0, 1000, 5000),
        vec![1000, 1100, 1200, 1500, 3000]
    );
}

#[test]
fn defences_are_three_announcements_at_most_once_a_second() {
    let t0 = Instant::now();
    let mut s = Schedule::new(t0, &announce(1, 100, 0));
    run(&mut s, t0, 0, 50);
    // A rival heard at 50 ms, and again and again: one defence a second.
    let mut sent = Vec::new();
    for ms in 50..2600 {
        let now = t0 + MS(ms);
        if ms % 10 == 0 {
            s.defend(now);
        }
        if s.due(now) {
            s.sent(now);
            sent.push(ms);
        }
    }
    assert_eq!(sent, vec![50, 150, 250, 1050, 1150, 1250, 2050, 2150, 2250]);
}

#[test]
fn an_unproven_announcement_is_tried_again_shortly() {
    let t0 = Instant::now();
    let mut s = Schedule::new(t0, &announce(2, 100, 0));
    assert!(s.due(t0));
    s.retry(t0);
    assert!(!s.due(t0 + MS(50)));
    assert_eq!(s.next_announce(), Some(t0 + RETRY));
    assert_eq!(run(&mut s, t0, 1, 1000), vec![100, 200]);
    s.defend(t0 + MS(1000));
    s.retry(t0 + MS(1000));
    assert_eq!(run(&mut s, t0, 1001, 2000), vec![1100, 1200]);
}

#[test]
fn probes_are_fast_after_taking_over_then_slow() {
    let t0 = Instant::now();
    let mut s = Schedule::new(t0, &announce(3, 100, 0));
    assert_eq!(s.next_probe(), t0 + PROBE_FAST);
    s.probed(t0 + MS(500));
    assert_eq!(s.next_probe(), t0 + MS(1000));
    let late = t0 + FAST_FOR + MS(1);
    s.probed(late);
    assert_eq!(s.next_probe(), late + PROBE_SLOW);
}
