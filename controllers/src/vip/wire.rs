//! The VIP on its link: hearing what is said about the address (requests
//! for it, claims of it), answering a request, announcing it (gratuitous
//! ARP / unsolicited NA), probing for it (ARP probe / DAD-style neighbour
//! solicitation, neither of which touches a neighbour cache). A trait so
//! the holder and its speaker are tested without the kernel.
//!
//! Nothing here decides whether to speak: the speaker sends an answer or an
//! announcement only with fresh proof (`vip::speaker`). The real one, on
//! raw packet sockets, is in `wire_l2.rs`.

use crate::kernel::ask::{Asker, Heard};
use crate::kernel::packet::Mac;
use async_trait::async_trait;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

#[async_trait]
pub trait Wire: Send + Sync {
    /// Sends one announcement; returns the frames sent.
    fn announce(&self) -> io::Result<u64>;
    /// Probes for the address during `window`: the MAC of another host that
    /// answered for it or claimed it, if any did.
    async fn answered_by(&self, window: Duration) -> io::Result<Option<Mac>>;
    /// Waits for the next thing heard about the address.
    async fn hear(&self) -> io::Result<Heard>;
    /// The next thing already heard, if any, without waiting.
    fn try_hear(&self) -> Option<Heard>;
    /// Forgets everything heard so far.
    fn drain(&self);
    /// Answers a request for the address.
    fn answer(&self, who: &Asker) -> io::Result<()>;
    /// Sends one probe for the address (anyone else with it answers).
    fn probe(&self) -> io::Result<()>;
}

/// Opens a [`Wire`] for one VIP on one link, and watches the link for a
/// deposed holder's return.
pub trait Wires: Send + Sync {
    fn open(&self, link_index: u32, mac: Mac, ip: IpAddr) -> io::Result<Arc<dyn Wire>>;
    /// Probes node `prev` (a holder this node took over `vip` from) on the
    /// link, and cues a repair each time it answers again after going
    /// silent; runs until dropped (see [`super::deposed`]).
    fn watch_return(
        &self,
        link_index: u32,
        mac: Mac,
        prev: &super::observe::Holder,
        vip: IpAddr,
        cue: tokio::sync::mpsc::Sender<super::shared::Cue>,
    ) -> super::shared::Task;
}
