//! Whether a VIP group ever split, as the client saw it: a time when one
//! node answered for a member while another node answered for another
//! member. From each member's ARP changes (who started and stopped
//! answering, when).

use crate::monitor::Change;
use std::time::{Duration, Instant};

/// How long, in all, the members (each its changes) were answered by two
/// different nodes at once.
pub fn split(members: &[&[Change]]) -> Duration {
    let mut events: Vec<(Instant, usize, usize, bool)> = members
        .iter()
        .enumerate()
        .flat_map(|(m, cs)| cs.iter().map(move |(at, node, on)| (*at, m, *node, *on)))
        .collect();
    events.sort_by_key(|e| e.0);
    // Per member, the nodes answering for it.
    let mut answering: Vec<Vec<usize>> = vec![Vec::new(); members.len()];
    let mut total = Duration::ZERO;
    let mut since: Option<Instant> = None;
    for (at, m, node, on) in events {
        if let Some(s) = since.take() {
            total += at.saturating_duration_since(s);
        }
        let set = &mut answering[m];
        set.retain(|n| *n != node);
        if on {
            set.push(node);
        }
        let mut nodes: Vec<usize> = answering.iter().flatten().copied().collect();
        nodes.sort_unstable();
        nodes.dedup();
        if nodes.len() > 1 {
            since = Some(at);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_is_two_nodes_answering_for_members_at_once() {
        let t = Instant::now();
        let ms = |n| t + Duration::from_millis(n);
        // Member a: node 0 until 100, node 1 from 130. Member b: node 0
        // until 110, node 1 from 120: together, no split.
        let a = [(ms(0), 0, true), (ms(100), 0, false), (ms(130), 1, true)];
        let b = [(ms(0), 0, true), (ms(110), 0, false), (ms(120), 1, true)];
        assert_eq!(split(&[&a, &b]), Duration::ZERO);
        // b moves to node 1 at 90 while node 0 still answers for a until
        // 100: split for 10 ms.
        let b = [(ms(0), 0, true), (ms(90), 0, false), (ms(90), 1, true)];
        assert_eq!(split(&[&a, &b]), Duration::from_millis(10));
        // A member with two answering nodes counts too (a double answer).
        let c = [(ms(0), 0, true), (ms(50), 1, true), (ms(60), 1, false)];
        assert_eq!(split(&[&c]), Duration::from_millis(10));
        assert_eq!(split(&[]), Duration::ZERO);
    }
}
