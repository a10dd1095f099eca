//! What a controller sees of the state: reads of anything, writes of its
//! declared outputs only, always as itself.

use super::{ControllerError, Output};
use machined_resources::{ResourceSpec, State, Typed};
use std::collections::HashSet;
use std::time::Duration;

pub struct Ctx {
    state: State,
    name: &'static str,
    outputs: Vec<Output>,
    pub(crate) requeue: Option<Duration>,
}

impl Ctx {
    pub(crate) fn new(state: State, name: &'static str, outputs: Vec<Output>) -> Self {
        Ctx {
            state,
            name,
            outputs,
            requeue: None,
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn get<T: ResourceSpec>(&self, id: &str) -> Result<Option<Typed<T>>, ControllerError> {
        Ok(self.state.get_typed::<T>(id)?)
    }

    pub fn list<T: ResourceSpec>(&self) -> Result<Vec<Typed<T>>, ControllerError> {
        Ok(self.state.list_typed::<T>()?)
    }

    fn check<T: ResourceSpec>(&self) -> Result<(), ControllerError> {
        if self.outputs.iter().any(|o| o.type_ == T::TYPE) {
            Ok(())
        } else {
            Err(ControllerError::Undeclared {
                controller: self.name,
                type_: T::TYPE,
            })
        }
    }

    /// Creates or updates an output owned by this controller.
    pub fn put<T: ResourceSpec>(&self, id: &str, spec: &T) -> Result<(), ControllerError> {
        self.check::<T>()?;
        self.state.put(self.name, id, spec)?;
        Ok(())
    }

    /// Destroys an output owned by this controller; absent is fine.
    pub fn destroy<T: ResourceSpec>(&self, id: &str) -> Result<(), ControllerError> {
        self.check::<T>()?;
        match self.state.destroy(T::NAMESPACE, T::TYPE, id, self.name) {
            Err(machined_resources::StateError::NotFound { .. }) => Ok(()),
            other => Ok(other?),
        }
    }

    /// Destroys every output of type `T` this controller owns that is not in
    /// `keep`: the second half of reconciling a whole set.
    pub fn retain<T: ResourceSpec>(&self, keep: &HashSet<String>) -> Result<(), ControllerError> {
        self.check::<T>()?;
        for r in self.state.list(T::NAMESPACE, T::TYPE) {
            if r.metadata.owner == self.name && !keep.contains(&r.metadata.id) {
                self.destroy::<T>(&r.metadata.id)?;
            }
        }
        Ok(())
    }

    /// Asks to be reconciled again after `d` even if no input changes.
    pub fn requeue_after(&mut self, d: Duration) {
        self.requeue = Some(self.requeue.map_or(d, |cur| cur.min(d)));
    }
}
