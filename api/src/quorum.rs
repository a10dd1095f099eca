//! Whether taking a member out (leaving, removing it, or rebooting its node)
//! keeps etcd's quorum: after the change, the healthy members must still be
//! a majority of the members there are. Pure, so it is table-tested.

/// What is about to happen to one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// It leaves or is removed: one member fewer.
    Remove { healthy: bool },
    /// Its node goes down for a while (reboot, shutdown): as many members,
    /// one of them down.
    Down,
}

/// `Ok` when the cluster keeps quorum; else why not, in words. A cluster of
/// one member has no quorum to keep while its node reboots (it was never
/// fault tolerant): that is allowed; taking the member away is not.
pub fn check(members: usize, healthy: usize, change: Change) -> Result<(), String> {
    if members == 1 && change == Change::Down {
        return Ok(());
    }
    let (after, healthy_after) = match change {
        Change::Remove { healthy: h } => (
            members.saturating_sub(1),
            healthy.saturating_sub(usize::from(h)),
        ),
        Change::Down => (members, healthy.saturating_sub(1)),
    };
    if after == 0 {
        return Err("it is the only member: the cluster would be gone".into());
    }
    let need = after / 2 + 1;
    if healthy_after < need {
        return Err(format!(
            "{healthy_after} healthy member(s) of {after} would be left, and etcd needs {need} for quorum"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_table() {
        use Change::*;
        // (members, healthy, change, keeps quorum)
        let cases = [
            (3, 3, Remove { healthy: true }, true),  // 2 of 2
            (3, 2, Remove { healthy: true }, false), // 1 of 2
            (3, 2, Remove { healthy: false }, true), // removing the dead one: 2 of 2
            (3, 3, Down, true),                      // 2 of 3
            (3, 2, Down, false),                     // 1 of 3
            (5, 4, Down, true),                      // 3 of 5
            (5, 3, Down, false),                     // 2 of 5
            (2, 2, Remove { healthy: true }, true),  // 1 of 1
            (2, 2, Down, false),                     // 1 of 2
            (1, 1, Remove { healthy: true }, false), // none left
            (1, 1, Down, true),                      // a cluster of one reboots
        ];
        for (m, h, c, ok) in cases {
            assert_eq!(
                check(m, h, c).is_ok(),
                ok,
                "{m} members, {h} healthy, {c:?}: {:?}",
                check(m, h, c)
            );
        }
        assert!(check(3, 2, Change::Down).unwrap_err().contains("needs 2"));
    }
}
