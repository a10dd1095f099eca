//! Machine config: the Talos `v1alpha1` shape and its multi-document form.
//!
//! [`parse`] reads every document, validates across fields, and returns the
//! config with warnings (each naming an unsupported field), or every error
//! found, each naming the field path and the reason.

pub mod bond;
mod cluster;
mod dhcp;
mod documents;
mod fields;
pub mod health_check;
#[cfg(test)]
mod health_check_tests;
mod kinds;
mod layer2_vip;
pub mod limits;
pub mod link_alias;
mod links;
pub mod logging;
mod model;
pub mod patch;
mod patch_delete;
mod patch_rules;
mod talos_names;
mod v1alpha1;
mod validate;
mod values;
mod vip_options;
mod vip_subnet;
mod walk;

pub use health_check::{HealthCheck, Probe};
pub use links::{resolve_name, vlan_link_name, LinkEntry, VipEntry, VipLink};
pub use model::*;
pub use values::valid_hostname;
pub use vip_options::{Announce, VipOptions, MIN_LEASE_TTL_SECS};
pub use walk::FieldError;

use serde::Deserialize;
use walk::Diag;
use yaml_serde::Value;

/// A config that passed validation.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub config: MachineConfig,
    pub warnings: Vec<String>,
}

/// Every error of a rejected config.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid machine config:\n  {}", .errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n  "))]
pub struct ConfigErrors {
    pub errors: Vec<FieldError>,
    pub warnings: Vec<String>,
}

/// Parses and validates a machine config (one or several YAML documents).
pub fn parse(text: &str) -> Result<Parsed, ConfigErrors> {
    if let Err(e) = limits::precheck(text) {
        return Err(ConfigErrors {
            errors: vec![e],
            warnings: Vec::new(),
        });
    }
    let mut d = Diag::default();
    let mut main: Option<MachineConfig> = None;
    let mut seen_main = false;
    let mut gathered = kinds::Gathered::default();
    let mut seen_kinds: std::collections::HashMap<String, usize> = Default::default();

    for (i, de) in yaml_serde::Deserializer::from_str(text).enumerate() {
        let doc = match Value::deserialize(de) {
            Ok(v) => v,
            Err(e) => {
                d.error(
                    format!("document {}", i + 1),
                    format!("is not valid YAML: {e}"),
                );
                break;
            }
        };
        if doc.is_null() {
            continue;
        }
        let kind = doc.get("kind").and_then(Value::as_str).map(str::to_string);
        // Documents are named by kind and position among that kind.
        let path = kind.as_deref().map(|k| {
            let n = seen_kinds.entry(k.to_string()).or_default();
            *n += 1;
            format!("{k}[{}]", *n - 1)
        });
        let path = path.unwrap_or_default();
        match kind.as_deref() {
            None if doc.get("machine").is_some() || doc.get("version").is_some() => {
                if seen_main {
                    d.error(format!("document {}", i + 1), "a second v1alpha1 document");
                    continue;
                }
                seen_main = true;
                main = v1alpha1::machine_config(&doc, &mut d);
            }
            Some(k) => match kinds::find(k) {
                Some(kind) => kind.read(&doc, &path, &mut gathered, &mut d),
                None if talos_names::is_kind(k) => d.ignored.push(format!("{k} document")),
                None => d.error(
                    format!("document {} (kind {k})", i + 1),
                    match walk::did_you_mean(k, &kinds::names()) {
                        Some(m) => format!("unknown document kind; did you mean {m}?"),
                        None => format!(
                            "unknown document kind (machined reads {})",
                            kinds::names().join(", ")
                        ),
                    },
                ),
            },
            None => d.error(
                format!("document {}", i + 1),
                "has neither a kind nor a machine section",
            ),
        }
    }
    if !seen_main && d.errors.is_empty() {
        d.error(
            "machine",
            "no v1alpha1 document (version: v1alpha1, machine: ...) found",
        );
    }
    d.summarize_ignored();
    let config = main.map(|mut config| {
        gathered.merge(&mut config, &mut d);
        validate::check(&config, &mut d);
        config
    });
    match config {
        Some(config) if d.errors.is_empty() => Ok(Parsed {
            config,
            warnings: d.warnings,
        }),
        _ => Err(ConfigErrors {
            errors: d.errors,
            warnings: d.warnings,
        }),
    }
}

#[cfg(test)]
mod documents_tests;
#[cfg(test)]
mod link_alias_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod vip_group_tests;
