//! Controllers and the engine that runs them.

mod ctx;
mod engine;
pub mod fault;
#[cfg(test)]
pub mod harness;
pub mod operator;

pub use crate::waker::Waker;
pub use ctx::Ctx;
pub use engine::{Engine, RegisterError, Running};

use async_trait::async_trait;

/// A `(namespace, type)` a controller reads; changes to it wake the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Input {
    pub namespace: &'static str,
    pub type_: &'static str,
}

impl Input {
    pub fn of<T: machined_resources::ResourceSpec>() -> Self {
        Input {
            namespace: T::NAMESPACE,
            type_: T::TYPE,
        }
    }
}

/// A type a controller writes. An exclusive output has exactly one writer;
/// a shared one may have several, each touching only what it owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output {
    pub type_: &'static str,
    pub exclusive: bool,
}

impl Output {
    pub fn exclusive<T: machined_resources::ResourceSpec>() -> Self {
        Output {
            type_: T::TYPE,
            exclusive: true,
        }
    }

    pub fn shared<T: machined_resources::ResourceSpec>() -> Self {
        Output {
            type_: T::TYPE,
            exclusive: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error(transparent)]
    State(#[from] machined_resources::StateError),
    #[error("controller {controller} may not write {type_}: not a declared output")]
    Undeclared {
        controller: &'static str,
        type_: &'static str,
    },
    #[error(transparent)]
    Net(#[from] crate::kernel::NetError),
    #[error(transparent)]
    Etcd(#[from] crate::etcd::client::EtcdError),
    #[error("certificates")]
    Pki(#[from] machined_pki::PkiError),
    /// A file or process operation, with what was being done.
    #[error("{what} {}", .path.display())]
    Io {
        what: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("reconcile panicked: {0}")]
    Panicked(String),
}

impl ControllerError {
    /// An I/O error while `what`-ing `path` (e.g. `"creating"`, a directory).
    pub fn io(what: &'static str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| ControllerError::Io { what, path, source }
    }
}

#[async_trait]
pub trait Controller: Send + 'static {
    fn name(&self) -> &'static str;
    fn inputs(&self) -> Vec<Input>;
    fn outputs(&self) -> Vec<Output>;

    /// Called once before the first reconcile, e.g. to hook event sources to
    /// `waker`.
    async fn start(&mut self, _waker: Waker) -> Result<(), ControllerError> {
        Ok(())
    }

    /// Brings outputs in line with inputs, for the whole set. Idempotent.
    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError>;

    /// Called once when the engine stops this controller.
    async fn shutdown(&mut self, _ctx: &mut Ctx) -> Result<(), ControllerError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
