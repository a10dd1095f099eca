//! What machined tells about itself, kept within fixed bounds: typed
//! events in a ring with ids ([`events`]), its own and etcd's log lines in
//! rings ([`logs`]), Prometheus metrics ([`metrics`]), and the kernel log
//! record format ([`kmsg`]). Each is process-wide (one machined per
//! process), as a tracing subscriber is: emitters need no handle.

mod answering;
pub mod events;
pub mod kmsg;
pub mod logs;
pub mod metrics;
mod ring;
mod sinks;

pub use events::{emit, Event, Kind};
