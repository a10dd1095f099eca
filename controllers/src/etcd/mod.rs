//! etcd: which etcd to run (spec), running and supervising it (service),
//! and talking to it (client helpers; a line over every member).

mod args;
pub mod client;
mod etcd_report;
mod etcd_service;
#[cfg(test)]
mod etcd_service_tests;
mod etcd_spec;
mod join;
mod leave;
pub mod line;
mod output;
pub mod quorum;

pub use args::{etcd_args, PkiFiles, StartMode};
pub use client::Tls;
pub use etcd_service::EtcdServiceController;
pub use etcd_spec::{node_name, pick_advertise_ip, EtcdSpecController};

/// etcd's standard ports.
pub const CLIENT_PORT: u16 = 2379;
pub const PEER_PORT: u16 = 2380;
