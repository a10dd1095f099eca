//! A bounded ring of numbered entries with a watch on the newest number,
//! so followers wait without a queue of their own: a follower that falls
//! behind further than the ring holds learns how much it missed.

use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::watch;

/// Something kept in a ring: it says how much room it takes.
pub trait Cost {
    fn cost(&self) -> usize;
}

pub struct Ring<T> {
    inner: Mutex<Inner<T>>,
    newest: watch::Sender<u64>,
}

struct Inner<T> {
    /// (number, entry), oldest first; numbers start at 1 and never repeat.
    items: VecDeque<(u64, T)>,
    cost: usize,
    max_items: usize,
    max_cost: usize,
    next: u64,
}

/// What a follower gets: entries after the one it saw, and how many it
/// missed because they had already left the ring.
pub struct Since<T> {
    pub items: Vec<(u64, T)>,
    pub missed: u64,
}

impl<T: Clone + Cost> Ring<T> {
    pub fn new(max_items: usize, max_cost: usize) -> Self {
        Ring {
            inner: Mutex::new(Inner {
                items: VecDeque::new(),
                cost: 0,
                max_items: max_items.max(1),
                max_cost,
                next: 1,
            }),
            newest: watch::channel(0).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<T>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `item`, dropping the oldest entries until both bounds hold;
    /// returns its number.
    pub fn push(&self, item: T) -> u64 {
        let n = {
            let mut g = self.lock();
            let n = g.next;
            g.next += 1;
            g.cost += item.cost();
            g.items.push_back((n, item));
            while g.items.len() > g.max_items || (g.cost > g.max_cost && g.items.len() > 1) {
                if let Some((_, old)) = g.items.pop_front() {
                    g.cost -= old.cost();
                }
            }
            n
        };
        self.newest.send_replace(n);
        n
    }

    /// The last `n` entries (all with `None`).
    pub fn tail(&self, n: Option<usize>) -> Vec<(u64, T)> {
        let g = self.lock();
        let skip = n.map_or(0, |n| g.items.len().saturating_sub(n));
        g.items.iter().skip(skip).cloned().collect()
    }

    /// Entries numbered after `seen`.
    pub fn since(&self, seen: u64) -> Since<T> {
        self.since_at_most(seen, usize::MAX)
    }

    /// As [`Ring::since`], at most `max` entries (the oldest of them);
    /// costs `max`, not the whole ring.
    pub fn since_at_most(&self, seen: u64, max: usize) -> Since<T> {
        let g = self.lock();
        let oldest = g.items.front().map_or(g.next, |(n, _)| *n);
        let missed = oldest.saturating_sub(seen + 1);
        // Entries are numbered one after another from `oldest`.
        let skip = usize::try_from((seen + 1).saturating_sub(oldest)).unwrap_or(usize::MAX);
        let items = g.items.iter().skip(skip).take(max).cloned().collect();
        Since { items, missed }
    }

    /// The number of the newest entry (0: none yet).
    pub fn newest(&self) -> u64 {
        *self.newest.borrow()
    }

    /// Wakes on every push.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.newest.subscribe()
    }

    /// (entries, cost) held now.
    pub fn usage(&self) -> (usize, usize) {
        let g = self.lock();
        (g.items.len(), g.cost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Cost for String {
        fn cost(&self) -> usize {
            self.len()
        }
    }

    #[test]
    fn keeps_within_both_bounds_and_counts_what_followers_missed() {
        let r: Ring<String> = Ring::new(3, 10);
        for s in ["a", "bb", "ccc", "dddd"] {
            r.push(s.into());
        }
        // Three at most: "a" went.
        assert_eq!(
            r.tail(None).iter().map(|x| x.0).collect::<Vec<_>>(),
            [2, 3, 4]
        );
        assert_eq!(r.usage(), (3, 9));
        // Cost: 9 + 5 > 10 drops "bb" and "ccc".
        r.push("eeeee".into());
        assert_eq!(r.tail(None).iter().map(|x| x.0).collect::<Vec<_>>(), [4, 5]);
        assert_eq!(r.usage(), (2, 9));
        // A follower that saw 1 missed 2 and 3.
        let s = r.since(1);
        assert_eq!((s.missed, s.items.len()), (2, 2));
        let s = r.since(4);
        assert_eq!((s.missed, s.items.len()), (0, 1));
        assert_eq!(r.tail(Some(1))[0].1, "eeeee");
        assert_eq!(r.newest(), 5);
        // One entry over the cost bound on its own is still kept.
        r.push("x".repeat(50));
        assert_eq!(r.usage(), (1, 50));
    }
}
