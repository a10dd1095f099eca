//! The check's hysteresis, pure: a node with no verdict yet is healthy
//! after its first success (so a starting node campaigns at once) and
//! failing only after `fall` failures in a row, as a healthy one is; a
//! failing node is healthy again after `rise` successes in a row.

use std::time::SystemTime;

pub use machined_resources::types::HealthState as State;

#[derive(Debug, Clone)]
pub struct Tracker {
    rise: u32,
    fall: u32,
    pub state: State,
    /// Results in a row equal to the last one.
    pub streak: u32,
    last_ok: Option<bool>,
    pub changes: u64,
    pub since: SystemTime,
}

impl Tracker {
    pub fn new(rise: u32, fall: u32) -> Self {
        Tracker {
            rise: rise.max(1),
            fall: fall.max(1),
            state: State::Unknown,
            streak: 0,
            last_ok: None,
            changes: 0,
            since: SystemTime::now(),
        }
    }

    /// Records one result; true when the state changed.
    pub fn record(&mut self, ok: bool) -> bool {
        if self.last_ok == Some(ok) {
            self.streak = self.streak.saturating_add(1);
        } else {
            self.streak = 1;
            self.last_ok = Some(ok);
        }
        let next = match (self.state, ok) {
            (State::Unknown, true) => State::Healthy,
            (State::Unknown | State::Healthy, false) if self.streak >= self.fall => State::Failing,
            (State::Failing, true) if self.streak >= self.rise => State::Healthy,
            (s, _) => s,
        };
        let changed = next != self.state;
        if changed {
            self.state = next;
            self.changes += 1;
            self.since = SystemTime::now();
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rise_and_fall_need_results_in_a_row() {
        use State::*;
        // (rise, fall, results, state after each)
        let cases: &[(u32, u32, &str, &[State])] = &[
            (3, 3, "+", &[Healthy]),
            // no verdict until `fall` failures (a new check never fails a
            // holder at its first result)
            (3, 3, "---", &[Unknown, Unknown, Failing]),
            (3, 2, "-+", &[Unknown, Healthy]),
            (
                3,
                3,
                "+--+---",
                &[
                    Healthy, Healthy, Healthy, Healthy, Healthy, Healthy, Failing,
                ],
            ),
            (
                2,
                1,
                "+-+-++",
                &[Healthy, Failing, Failing, Failing, Failing, Healthy],
            ),
            (2, 1, "-", &[Failing]),
            (1, 1, "+-+", &[Healthy, Failing, Healthy]),
            // zero counts behave as one
            (0, 0, "+-", &[Healthy, Failing]),
        ];
        for (rise, fall, results, want) in cases {
            let mut t = Tracker::new(*rise, *fall);
            let got: Vec<State> = results
                .chars()
                .map(|c| {
                    t.record(c == '+');
                    t.state
                })
                .collect();
            assert_eq!(&got, want, "rise {rise} fall {fall} results {results}");
        }
    }

    #[test]
    fn counts_changes_and_streaks() {
        let mut t = Tracker::new(2, 2);
        assert!(t.record(true));
        assert!(!t.record(false));
        assert_eq!(t.streak, 1);
        assert!(t.record(false));
        assert_eq!((t.state, t.streak, t.changes), (State::Failing, 2, 2));
        assert!(!t.record(false));
        assert_eq!(t.streak, 3);
    }
}
