//! The in-memory, versioned, watchable state.
//!
//! Every write bumps the resource's version; `update` must carry the version
//! it read, so lost updates are detected. A write that changes nothing is a
//! no-op: no version bump, no event. Watches start with the current listing,
//! then a `Bootstrapped` marker, then every change.

use crate::resource::{Metadata, Resource, ResourceSpec, Typed};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StateError {
    #[error("{type_} {id:?} not found")]
    NotFound { type_: String, id: String },
    #[error("{type_} {id:?} already exists")]
    AlreadyExists { type_: String, id: String },
    #[error("{type_} {id:?}: version conflict (expected {expected}, found {found})")]
    Conflict {
        type_: String,
        id: String,
        expected: u64,
        found: u64,
    },
    #[error("{type_} {id:?} is owned by {owner:?}, not {writer:?}")]
    Owner {
        type_: String,
        id: String,
        owner: String,
        writer: String,
    },
    #[error("{type_} {id:?}: spec does not decode: {reason}")]
    Decode {
        type_: String,
        id: String,
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Created,
    Updated,
    Destroyed,
    /// The initial listing of a watch is complete.
    Bootstrapped,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventKind,
    /// `None` only for `Bootstrapped`.
    pub resource: Option<Resource>,
}

type Key = (String, String);

#[derive(Default)]
struct Inner {
    items: HashMap<Key, BTreeMap<String, Resource>>,
    watchers: HashMap<Key, Vec<mpsc::UnboundedSender<Event>>>,
}

impl Inner {
    fn notify(&mut self, key: &Key, kind: EventKind, r: &Resource) {
        if let Some(ws) = self.watchers.get_mut(key) {
            ws.retain(|w| {
                w.send(Event {
                    kind,
                    resource: Some(r.clone()),
                })
                .is_ok()
            });
        }
    }
}

/// Shared handle to the state; cheap to clone.
#[derive(Clone, Default)]
pub struct State {
    inner: Arc<Mutex<Inner>>,
}

/// A stream of events for one `(namespace, type)`.
pub struct Watch {
    rx: mpsc::UnboundedReceiver<Event>,
}

impl Watch {
    pub async fn next(&mut self) -> Option<Event> {
        self.rx.recv().await
    }

    /// Takes an event if one is queued, without waiting.
    pub fn try_next(&mut self) -> Option<Event> {
        self.rx.try_recv().ok()
    }
}

fn key(ns: &str, ty: &str) -> Key {
    (ns.to_string(), ty.to_string())
}

impl State {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-written map
        // behind (every mutation is a single insert/remove), so recover.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, ns: &str, ty: &str, id: &str) -> Option<Resource> {
        self.lock().items.get(&key(ns, ty))?.get(id).cloned()
    }

    pub fn list(&self, ns: &str, ty: &str) -> Vec<Resource> {
        self.lock()
            .items
            .get(&key(ns, ty))
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Creates a resource; its version becomes 1.
    pub fn create(&self, mut r: Resource) -> Result<Resource, StateError> {
        let mut inner = self.lock();
        let k = key(&r.metadata.namespace, &r.metadata.type_);
        let items = inner.items.entry(k.clone()).or_default();
        if items.contains_key(&r.metadata.id) {
            return Err(StateError::AlreadyExists {
                type_: r.metadata.type_,
                id: r.metadata.id,
            });
        }
        let now = SystemTime::now();
        r.metadata.version = 1;
        r.metadata.created = now;
        r.metadata.updated = now;
        items.insert(r.metadata.id.clone(), r.clone());
        inner.notify(&k, EventKind::Created, &r);
        Ok(r)
    }

    /// Updates a resource. `r.metadata.version` must be the stored version
    /// and `r.metadata.owner` the stored owner. Unchanged content is a no-op.
    pub fn update(&self, mut r: Resource) -> Result<Resource, StateError> {
        let mut inner = self.lock();
        let k = key(&r.metadata.namespace, &r.metadata.type_);
        let Some(cur) = inner.items.get(&k).and_then(|m| m.get(&r.metadata.id)) else {
            return Err(StateError::NotFound {
                type_: r.metadata.type_,
                id: r.metadata.id,
            });
        };
        check_owner(cur, &r.metadata.owner)?;
        if cur.metadata.version != r.metadata.version {
            return Err(StateError::Conflict {
                type_: r.metadata.type_,
                id: r.metadata.id,
                expected: r.metadata.version,
                found: cur.metadata.version,
            });
        }
        let same = cur.spec == r.spec && cur.metadata.labels == r.metadata.labels;
        if same {
            return Ok(cur.clone());
        }
        r.metadata.created = cur.metadata.created;
        r.metadata.version = cur.metadata.version + 1;
        r.metadata.updated = SystemTime::now();
        inner
            .items
            .entry(k.clone())
            .or_default()
            .insert(r.metadata.id.clone(), r.clone());
        inner.notify(&k, EventKind::Updated, &r);
        Ok(r)
    }

    /// Destroys a resource (its owner only).
    pub fn destroy(&self, ns: &str, ty: &str, id: &str, owner: &str) -> Result<(), StateError> {
        let mut inner = self.lock();
        let k = key(ns, ty);
        let Some(cur) = inner.items.get(&k).and_then(|m| m.get(id)) else {
            return Err(not_found(ty, id));
        };
        check_owner(cur, owner)?;
        let removed = inner.items.get_mut(&k).and_then(|m| m.remove(id));
        if let Some(r) = removed {
            inner.notify(&k, EventKind::Destroyed, &r);
        }
        Ok(())
    }

    /// Watches one `(namespace, type)`: the current resources as `Created`
    /// events, a `Bootstrapped` marker, then every change. Registration and
    /// the initial listing happen under one lock, so nothing is missed.
    pub fn watch(&self, ns: &str, ty: &str) -> Watch {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut inner = self.lock();
        let k = key(ns, ty);
        for r in inner.items.get(&k).into_iter().flat_map(|m| m.values()) {
            let _ = tx.send(Event {
                kind: EventKind::Created,
                resource: Some(r.clone()),
            });
        }
        let _ = tx.send(Event {
            kind: EventKind::Bootstrapped,
            resource: None,
        });
        inner.watchers.entry(k).or_default().push(tx);
        Watch { rx }
    }

    // ---- typed helpers ----

    pub fn get_typed<T: ResourceSpec>(&self, id: &str) -> Result<Option<Typed<T>>, StateError> {
        self.get(T::NAMESPACE, T::TYPE, id)
            .map(|r| decode::<T>(&r))
            .transpose()
    }

    /// [`State::destroy`] of `T/id`.
    pub fn destroy_typed<T: ResourceSpec>(&self, id: &str, owner: &str) -> Result<(), StateError> {
        self.destroy(T::NAMESPACE, T::TYPE, id, owner)
    }

    /// Whether `T/id` exists (without decoding it).
    pub fn has_typed<T: ResourceSpec>(&self, id: &str) -> bool {
        self.get(T::NAMESPACE, T::TYPE, id).is_some()
    }

    /// [`State::watch`] of one resource type.
    pub fn watch_typed<T: ResourceSpec>(&self) -> Watch {
        self.watch(T::NAMESPACE, T::TYPE)
    }

    pub fn list_typed<T: ResourceSpec>(&self) -> Result<Vec<Typed<T>>, StateError> {
        self.list(T::NAMESPACE, T::TYPE)
            .iter()
            .map(decode::<T>)
            .collect()
    }

    /// Creates or updates `T/id` owned by `owner` with `spec`, keeping its
    /// labels. Returns the stored resource.
    pub fn put<T: ResourceSpec>(
        &self,
        owner: &str,
        id: &str,
        spec: &T,
    ) -> Result<Resource, StateError> {
        let value = serde_json::to_value(spec).map_err(|e| StateError::Decode {
            type_: T::TYPE.to_string(),
            id: id.to_string(),
            reason: e.to_string(),
        })?;
        match self.get(T::NAMESPACE, T::TYPE, id) {
            None => self.create(Resource {
                metadata: Metadata::new(T::NAMESPACE, T::TYPE, id, owner),
                spec: value,
            }),
            Some(mut cur) => {
                check_owner(&cur, owner)?;
                cur.spec = value;
                self.update(cur)
            }
        }
    }
}

fn decode<T: ResourceSpec>(r: &Resource) -> Result<Typed<T>, StateError> {
    Typed::decode(r).map_err(|e| StateError::Decode {
        type_: T::TYPE.to_string(),
        id: r.metadata.id.clone(),
        reason: e.to_string(),
    })
}

fn not_found(ty: &str, id: &str) -> StateError {
    StateError::NotFound {
        type_: ty.to_string(),
        id: id.to_string(),
    }
}

fn check_owner(cur: &Resource, writer: &str) -> Result<(), StateError> {
    if cur.metadata.owner != writer {
        return Err(StateError::Owner {
            type_: cur.metadata.type_.clone(),
            id: cur.metadata.id.clone(),
            owner: cur.metadata.owner.clone(),
            writer: writer.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
