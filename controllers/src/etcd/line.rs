//! A line to the etcd cluster that one hung member cannot cut.
//!
//! A member can hang without dying: its process stopped, its disk stalled,
//! its connections open and silent. A client bound to it then waits for
//! every call's deadline. A [`Line`] holds one client per member (each
//! connected when first needed), prefers one, and sends a call that the
//! preferred member has not answered within `per_try` to the next member
//! too; whichever answers first becomes the preferred member. Calls whose
//! answers must be fresh (a linearizable read, a keep-alive) are safe to
//! repeat on another member: etcd serves them with the cluster's quorum,
//! never from one member's view.

use super::client::{connect_streaming, EtcdError, Tls};
use etcd_client::Client;
use futures::stream::{FuturesUnordered, StreamExt};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;
use tokio::time::Instant;

struct Member {
    endpoint: String,
    client: OnceCell<Client>,
}

pub struct Line {
    members: Vec<Member>,
    tls: Option<Tls>,
    preferred: AtomicUsize,
}

impl Line {
    /// A line whose preferred member is `first` (already connected), with
    /// every other member of `endpoints` behind it.
    pub fn new(first: (String, Client), endpoints: &[String], tls: Option<Tls>) -> Arc<Line> {
        let (ep, client) = first;
        let mut members = vec![Member {
            endpoint: ep.clone(),
            client: OnceCell::new_with(Some(client)),
        }];
        members.extend(endpoints.iter().filter(|e| **e != ep).map(|e| Member {
            endpoint: e.clone(),
            client: OnceCell::new(),
        }));
        Arc::new(Line {
            members,
            tls,
            preferred: AtomicUsize::new(0),
        })
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The member calls go to first.
    pub fn preferred(&self) -> usize {
        self.preferred.load(Ordering::Relaxed) % self.members.len()
    }

    pub fn endpoint(&self, i: usize) -> &str {
        &self.members[i % self.members.len()].endpoint
    }

    /// Member `i`'s client, connected now if it was not yet.
    pub async fn client(&self, i: usize) -> Result<Client, EtcdError> {
        let m = &self.members[i % self.members.len()];
        let c = m
            .client
            .get_or_try_init(|| {
                connect_streaming(std::slice::from_ref(&m.endpoint), self.tls.as_ref())
            })
            .await?;
        Ok(c.clone())
    }

    /// Connects to every member now, so that moving to another one later
    /// costs no handshake. Failures are left for later calls to retry.
    pub async fn connect_all(&self) {
        let all = (0..self.members.len()).map(|i| self.client(i));
        futures::future::join_all(all).await;
    }

    /// Stops preferring member `i` (it failed or hangs): the next one is
    /// preferred, unless another call already moved on.
    pub fn avoid(&self, i: usize) -> usize {
        let n = self.members.len();
        let next = (i + 1) % n;
        let _ = self
            .preferred
            .compare_exchange(i % n, next, Ordering::Relaxed, Ordering::Relaxed);
        self.preferred()
    }

    /// Runs `f` on the preferred member's client; if that has not answered
    /// within `per_try` (or failed), on the next member too, and so on; the
    /// first answer wins, and its member becomes the preferred one. All of
    /// it within `total`.
    pub async fn call<T, F, Fut>(
        &self,
        per_try: Duration,
        total: Duration,
        f: F,
    ) -> Result<T, EtcdError>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let n = self.members.len();
        let first = self.preferred();
        let deadline = Instant::now() + total;
        let attempt = |k: usize| {
            let i = (first + k) % n;
            let f = &f;
            async move {
                let c = self.client(i).await?;
                f(c).await
                    .map(|v| (i, v))
                    .map_err(|source| EtcdError::Call {
                        endpoints: self.members[i].endpoint.clone(),
                        source,
                    })
            }
        };
        let mut running = FuturesUnordered::new();
        running.push(attempt(0));
        let mut started = 1;
        let mut next_try = Instant::now() + per_try;
        let mut last = None;
        loop {
            tokio::select! {
                Some(r) = running.next() => match r {
                    Ok((i, v)) => {
                        self.preferred.store(i, Ordering::Relaxed);
                        return Ok(v);
                    }
                    Err(e) => {
                        last = Some(e);
                        // Failed (refused, say): the next member now, not
                        // after the whole per-try wait.
                        next_try = Instant::now();
                    }
                },
                _ = tokio::time::sleep_until(next_try), if started < n => {
                    running.push(attempt(started));
                    started += 1;
                    next_try = Instant::now() + per_try;
                }
                _ = tokio::time::sleep_until(deadline) => break,
            }
            if running.is_empty() && started >= n {
                break;
            }
        }
        Err(last.unwrap_or_else(|| EtcdError::Timeout {
            endpoints: self
                .members
                .iter()
                .map(|m| m.endpoint.as_str())
                .collect::<Vec<_>>()
                .join(","),
            after: total,
        }))
    }
}
