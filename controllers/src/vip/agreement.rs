//! Candidates agree before deposing a holder. A candidate that finds the
//! holder silent may itself be the one cut off (a bad cable, a filter on
//! its port): alone, it must not revoke a live holder's lease. So each
//! candidate that finds the holder dead posts a suspicion in etcd, on its
//! own lease (gone with it), naming the holder's lease; the lease is revoked
//! only when every other candidate suspects it too, and at least two do.
//! Otherwise takeover waits for the holder's lease to expire.

use etcd_client::{Client, GetOptions, PutOptions};
use std::net::IpAddr;

/// How many agreeing candidates a revoke needs, from the number of keys in
/// the election (the holder's included).
pub fn needed(election_keys: usize) -> Option<usize> {
    let candidates = election_keys.saturating_sub(1);
    (candidates >= 2).then_some(candidates)
}

/// Counts the suspicions naming `holder_lease` (values are lease ids in
/// decimal; anything else counts for nothing).
pub fn agreeing<'a>(values: impl Iterator<Item = &'a [u8]>, holder_lease: i64) -> usize {
    let want = holder_lease.to_string();
    values.filter(|v| *v == want.as_bytes()).count()
}

pub struct Suspicion {
    /// The VIP probed (a group's lead).
    pub vip: IpAddr,
    /// The election's name (`super::group::election`).
    pub election: String,
    /// Where candidates post suspicions (`super::group::suspects`).
    pub suspects: String,
    pub me: String,
    pub my_lease: i64,
}

impl Suspicion {
    fn key(&self) -> String {
        format!("{}{}", self.suspects, self.me)
    }

    pub async fn post(&self, c: &mut Client, holder_lease: i64) -> Result<(), etcd_client::Error> {
        let opts = PutOptions::new().with_lease(self.my_lease);
        c.put(self.key(), holder_lease.to_string(), Some(opts))
            .await
            .map(|_| ())
    }

    pub async fn withdraw(&self, c: &mut Client) -> Result<(), etcd_client::Error> {
        c.delete(self.key(), None).await.map(|_| ())
    }

    /// Whether enough candidates suspect `holder_lease` now.
    pub async fn agreed(
        &self,
        c: &mut Client,
        holder_lease: i64,
    ) -> Result<bool, etcd_client::Error> {
        let election = c
            .get(
                format!("{}/", self.election),
                Some(GetOptions::new().with_prefix().with_count_only()),
            )
            .await?;
        let Some(need) = needed(election.count() as usize) else {
            return Ok(false);
        };
        let posted = c
            .get(
                self.suspects.as_str(),
                Some(GetOptions::new().with_prefix()),
            )
            .await?;
        Ok(agreeing(posted.kvs().iter().map(|kv| kv.value()), holder_lease) >= need)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revoke_needs_every_other_candidate_and_at_least_two() {
        // (keys in the election, holder's included) -> agreeing needed
        for (keys, want) in [(0, None), (1, None), (2, None), (3, Some(2)), (5, Some(4))] {
            assert_eq!(needed(keys), want, "{keys} keys");
        }
        let vals: Vec<&[u8]> = vec![b"42", b"42", b"41", b"x", b""];
        assert_eq!(agreeing(vals.iter().copied(), 42), 2);
        assert_eq!(agreeing(vals.iter().copied(), 7), 0);
    }
}
