//! Pushing logs and events out of the node: the controller (one runner per
//! destination) and the pusher.

pub mod push;
pub mod sink_config;
