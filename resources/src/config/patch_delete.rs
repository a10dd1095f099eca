//! `$patch: delete` in a strategic merge patch: found and taken out of the
//! patch before it is merged, then applied to the config first. A deletion
//! names a section (`hostname: {$patch: delete}`), a list element
//! (`- interface: eth0` with `$patch: delete`, selected by its other key),
//! or either of those inside an element of a list merged by key (inside
//! `- interface: eth0`, `vip: {machined: {healthCheck: {$patch: delete}}}`).

use super::patch_rules::{is_delete, merge_key, PatchError};
use yaml_serde::Value;

/// One step from a document's root.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    /// The element of a list whose `key` equals the value.
    Element(String, Value),
}

/// What one `$patch: delete` removes.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Deletion {
    /// Where the section or list is.
    at: Vec<Step>,
    /// `None`: the section at `at`; `Some`: the list element at `at` with
    /// this key and value.
    element: Option<(String, Value)>,
}

/// Takes every `$patch: delete` out of `patch`.
pub(super) fn extract(patch: &mut Value) -> Result<Vec<Deletion>, PatchError> {
    let mut out = Vec::new();
    walk(patch, "", &mut Vec::new(), &mut out)?;
    Ok(out)
}

fn dotted(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// `path` is the dotted path merge uses (list elements add nothing to it),
/// `at` the exact steps.
fn walk(
    v: &mut Value,
    path: &str,
    at: &mut Vec<Step>,
    out: &mut Vec<Deletion>,
) -> Result<(), PatchError> {
    match v {
        Value::Mapping(m) => {
            let mut gone = Vec::new();
            for (k, child) in m.iter_mut() {
                let Some(key) = k.as_str() else { continue };
                at.push(Step::Key(key.to_string()));
                if is_delete(child) {
                    out.push(Deletion {
                        at: at.clone(),
                        element: None,
                    });
                    gone.push(k.clone());
                } else {
                    walk(child, &dotted(path, key), at, out)?;
                }
                at.pop();
            }
            for k in gone {
                m.remove(&k);
            }
        }
        Value::Sequence(items) => {
            let keys = merge_key(path);
            let mut keep = Vec::new();
            for mut item in std::mem::take(items) {
                if is_delete(&item) {
                    out.push(Deletion {
                        at: at.clone(),
                        element: Some(selector(&item, path)?),
                    });
                    continue;
                }
                let before = out.len();
                let sel = keys.and_then(|ks| {
                    ks.iter()
                        .find_map(|k| Some((k.to_string(), item.get(*k)?.clone())))
                });
                match sel {
                    Some((k, val)) => {
                        at.push(Step::Element(k, val));
                        walk(&mut item, path, at, out)?;
                        at.pop();
                    }
                    None => {
                        walk(&mut item, path, at, out)?;
                        if out.len() > before {
                            return Err(PatchError::Delete(
                                path.to_string(),
                                "inside a list element only where the list is merged by key (interfaces, vlans)",
                            ));
                        }
                    }
                }
                keep.push(item);
            }
            *items = keep;
        }
        _ => {}
    }
    Ok(())
}

/// The key and value that select a list element to delete.
fn selector(item: &Value, path: &str) -> Result<(String, Value), PatchError> {
    item.as_mapping()
        .and_then(|m| m.iter().find(|(k, _)| k.as_str() != Some("$patch")))
        .and_then(|(k, v)| Some((k.as_str()?.to_string(), v.clone())))
        .ok_or_else(|| {
            PatchError::Delete(
                path.to_string(),
                "a list element needs a key besides $patch to select it",
            )
        })
}

impl Deletion {
    /// Removes what it names from `doc`; what is already absent stays so.
    pub(super) fn apply(&self, doc: &mut Value) -> Result<(), PatchError> {
        let Some((last, parents)) = self.at.split_last() else {
            return Err(PatchError::Delete(String::new(), "nothing to delete"));
        };
        let mut cur = doc;
        for step in parents {
            match step_into(cur, step) {
                Some(next) => cur = next,
                None => return Ok(()),
            }
        }
        match (&self.element, last) {
            (None, Step::Key(k)) => {
                if let Some(m) = cur.as_mapping_mut() {
                    m.remove(k.as_str());
                }
            }
            (None, Step::Element(k, v)) => {
                if let Value::Sequence(items) = cur {
                    items.retain(|i| i.get(k.as_str()) != Some(v));
                }
            }
            (Some((k, v)), step) => {
                if let Some(Value::Sequence(items)) = step_into(cur, step) {
                    items.retain(|i| i.get(k.as_str()) != Some(v));
                }
            }
        }
        Ok(())
    }
}

fn step_into<'a>(v: &'a mut Value, step: &Step) -> Option<&'a mut Value> {
    match step {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::Element(k, want) => v
            .as_sequence_mut()?
            .iter_mut()
            .find(|e| e.get(k.as_str()) == Some(want)),
    }
}
