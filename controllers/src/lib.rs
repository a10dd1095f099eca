//! The controller runtime and machined's controllers.
//!
//! The runtime ([`runtime::Engine`]) owns watching, waking, backoff, tracing
//! spans and shutdown; a controller owns only its reconcile logic.

pub mod dhcp;
pub mod etcd;
pub mod health;
pub mod kernel;
pub mod network;
pub mod runtime;
pub mod secrets;
pub mod sink;
pub mod vip;
pub mod waker;

pub use runtime::{Controller, ControllerError, Ctx, Engine, Input, Output, Waker};
