//! Config patches as Talos applies them.
//!
//! A patch is either strategic merge (YAML documents) or JSON 6902 (a list
//! of operations, single-document configs only). Strategic merge matches
//! documents by kind and name (the `v1alpha1` document by having no kind),
//! merges maps key by key, appends lists except where Talos merges by key
//! (`machine.network.interfaces` by `interface` or `deviceSelector`, `vlans`
//! by `vlanId`) or replaces them (`podSubnets`, `serviceSubnets`), and reads
//! `$patch: delete` to delete a document, a section, or a list element
//! (selected by the element's other key). An unmatched document is added.

use super::limits;
use super::patch_delete;
pub use super::patch_rules::PatchError;
use super::patch_rules::{is_delete, merge_key};
use super::walk::kind;
use serde::Deserialize;
use yaml_serde::Value;

/// A loaded patch.
#[derive(Debug, Clone)]
pub enum Patch {
    Strategic(Vec<Value>),
    Json6902(json_patch::Patch),
}

/// The non-empty YAML documents of `text`.
pub fn documents(text: &str) -> Result<Vec<Value>, yaml_serde::Error> {
    let mut out = Vec::new();
    for de in yaml_serde::Deserializer::from_str(text) {
        let v = Value::deserialize(de)?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

/// Reads a patch: a list of `{op, path, ...}` objects is JSON 6902,
/// anything else strategic merge. Bounded like a config.
pub fn load(text: &str) -> Result<Patch, PatchError> {
    limits::precheck(text).map_err(PatchError::Limits)?;
    let docs = documents(text).map_err(PatchError::Yaml)?;
    if let [Value::Sequence(ops)] = docs.as_slice() {
        if ops.iter().all(|o| o.get("op").is_some()) {
            let json = serde_json::to_value(ops).map_err(|e| PatchError::Convert(e.to_string()))?;
            let p: json_patch::Patch =
                serde_json::from_value(json).map_err(|e| PatchError::Convert(e.to_string()))?;
            return Ok(Patch::Json6902(p));
        }
    }
    Ok(Patch::Strategic(docs))
}

/// Applies `patches` in order to a config's text; returns the new text.
pub fn apply(config: &str, patches: &[Patch]) -> Result<String, PatchError> {
    limits::precheck(config).map_err(PatchError::Limits)?;
    let mut docs = documents(config).map_err(PatchError::Config)?;
    for p in patches {
        match p {
            Patch::Strategic(right) => {
                for r in right {
                    strategic(&mut docs, r.clone())?;
                }
            }
            Patch::Json6902(ops) => {
                let [doc] = docs.as_mut_slice() else {
                    return Err(PatchError::Json6902MultiDoc);
                };
                let mut json =
                    serde_json::to_value(&*doc).map_err(|e| PatchError::Convert(e.to_string()))?;
                json_patch::patch(&mut json, ops).map_err(PatchError::Json6902)?;
                *doc =
                    serde_json::from_value(json).map_err(|e| PatchError::Convert(e.to_string()))?;
            }
        }
    }
    let mut out = String::new();
    for d in &docs {
        if !out.is_empty() {
            out.push_str("---\n");
        }
        out.push_str(&yaml_serde::to_string(d).map_err(|e| PatchError::Convert(e.to_string()))?);
    }
    Ok(out)
}

/// `kind/name` of a document; the `v1alpha1` document has no kind.
pub fn doc_id(d: &Value) -> (Option<String>, Option<String>) {
    let s = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
    (s("kind"), s("name"))
}

fn strategic(docs: &mut Vec<Value>, mut right: Value) -> Result<(), PatchError> {
    let id = doc_id(&right);
    let at = docs.iter().position(|d| doc_id(d) == id);
    if is_delete(&right) {
        if let Some(i) = at {
            docs.remove(i);
        }
        return Ok(());
    }
    let deletes = patch_delete::extract(&mut right)?;
    match at {
        Some(i) => {
            // Deletions first: a patch may delete an element and add a new
            // one with the same key (Talos's order).
            for d in &deletes {
                d.apply(&mut docs[i])?;
            }
            merge(&mut docs[i], right, "")?;
        }
        None => docs.push(right),
    }
    Ok(())
}

/// Lists a patch replaces instead of extending.
fn replaced(path: &str) -> bool {
    matches!(
        path,
        "cluster.network.podSubnets" | "cluster.network.serviceSubnets"
    )
}

fn merge(left: &mut Value, right: Value, path: &str) -> Result<(), PatchError> {
    match (left, right) {
        (_, Value::Null) => {}
        (Value::Mapping(l), Value::Mapping(r)) => {
            for (k, rv) in r {
                let key = k.as_str().unwrap_or_default().to_string();
                let p = if path.is_empty() {
                    key
                } else {
                    format!("{path}.{key}")
                };
                match l.get_mut(&k) {
                    Some(lv) if !lv.is_null() => merge(lv, rv, &p)?,
                    _ => {
                        l.insert(k, rv);
                    }
                }
            }
        }
        (Value::Sequence(l), Value::Sequence(r)) => {
            if replaced(path) {
                *l = r;
            } else if let Some(keys) = merge_key(path) {
                for item in r {
                    let found = keys.iter().find_map(|k| {
                        let want = item.get(*k)?;
                        l.iter().position(|e| e.get(*k) == Some(want))
                    });
                    match found {
                        Some(i) => merge(&mut l[i], item, path)?,
                        None => l.push(item),
                    }
                }
            } else {
                l.extend(r);
            }
        }
        (l @ (Value::Mapping(_) | Value::Sequence(_)), r) => {
            return Err(PatchError::Mismatch {
                path: path.to_string(),
                left: kind(l),
                right: kind(&r),
            });
        }
        (l, r @ (Value::Mapping(_) | Value::Sequence(_))) if !l.is_null() => {
            return Err(PatchError::Mismatch {
                path: path.to_string(),
                left: kind(l),
                right: kind(&r),
            });
        }
        (l, r) => *l = r,
    }
    Ok(())
}

#[cfg(test)]
#[path = "patch_tests.rs"]
mod tests;
