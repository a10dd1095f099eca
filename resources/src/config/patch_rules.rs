//! What strategic merge and `$patch: delete` share (`patch.rs`,
//! `patch_delete.rs`): the error, how a deletion is marked, which lists
//! merge by key.

use yaml_serde::Value;

/// Why a patch was not loaded or applied.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("patch: {0}")]
    Limits(super::FieldError),
    #[error("patch is not valid YAML")]
    Yaml(#[source] yaml_serde::Error),
    #[error("machine config is not valid YAML")]
    Config(#[source] yaml_serde::Error),
    #[error("a JSON 6902 patch cannot change a multi-document machine config: write it as a strategic merge patch (YAML with the fields to set, `$patch: delete` to remove)")]
    Json6902MultiDoc,
    #[error("applying the JSON 6902 patch to the machine config failed")]
    Json6902(#[source] json_patch::PatchError),
    #[error("cannot merge at {path}: {left} in the config, {right} in the patch")]
    Mismatch {
        path: String,
        left: &'static str,
        right: &'static str,
    },
    #[error("$patch: delete at {0}: {1}")]
    Delete(String, &'static str),
    #[error("converting between YAML and JSON: {0}")]
    Convert(String),
}

pub(super) fn is_delete(v: &Value) -> bool {
    v.get("$patch").and_then(Value::as_str) == Some("delete")
}

/// Lists merged element by element on a key, by their path's last part.
pub(super) fn merge_key(path: &str) -> Option<&'static [&'static str]> {
    if path == "machine.network.interfaces" {
        Some(&["interface", "deviceSelector"])
    } else if path.ends_with(".vlans") {
        Some(&["vlanId"])
    } else {
        None
    }
}
