//! Typed resources, the versioned and watchable in-memory state, the resource
//! registry, and the machine config (Talos `v1alpha1` shape).

pub mod config;
pub mod duration;
pub mod endpoint;
pub mod error;
pub mod mac;
pub mod registry;
pub mod resource;
pub mod state;
pub mod types;

pub use registry::{Column, Definition};
pub use resource::{Metadata, Resource, ResourceSpec, Typed};
pub use state::{Event, EventKind, State, StateError, Watch};
