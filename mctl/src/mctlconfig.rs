//! The client config (`--mctlconfig`, `MCTLCONFIG`, `~/.mctl/config`):
//! contexts with endpoints, nodes and credentials, like talosconfig.

use anyhow::{anyhow, bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Context {
    #[serde(default)]
    pub endpoints: Vec<String>,
    #[serde(default)]
    pub nodes: Vec<String>,
    /// Base64 PEM: the machine CA, the client certificate and its key.
    pub ca: String,
    pub crt: String,
    pub key: String,
    /// (local clusters) the network namespace to talk from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct MctlConfig {
    #[serde(default)]
    pub context: String,
    #[serde(default)]
    pub contexts: BTreeMap<String, Context>,
}

/// `--mctlconfig`, else `MCTLCONFIG`, else `~/.mctl/config`.
pub fn path(flag: &Option<PathBuf>) -> PathBuf {
    if let Some(p) = flag {
        return p.clone();
    }
    if let Some(p) = std::env::var_os("MCTLCONFIG") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".mctl").join("config")
}

impl MctlConfig {
    /// Reads `path`; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<MctlConfig> {
        match std::fs::read_to_string(path) {
            Ok(t) => serde_yaml::from_str(&t)
                .with_context(|| format!("{}: not a valid mctlconfig", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(MctlConfig::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_yaml::to_string(self)?;
        machined_pki::write_private(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))
    }

    /// The context named by `--context`, else the current one.
    pub fn current(&self, name: &Option<String>) -> Result<Option<(&str, &Context)>> {
        let n = name.as_deref().unwrap_or(&self.context);
        if n.is_empty() {
            return Ok(None);
        }
        match self.contexts.get_key_value(n) {
            Some((k, c)) => Ok(Some((k.as_str(), c))),
            None => bail!(
                "context {n:?} not found (have: {})",
                self.contexts.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        }
    }

    /// Adds `other`'s contexts (replacing same-named ones) and makes its
    /// current context current.
    pub fn merge(&mut self, other: MctlConfig) {
        self.contexts.extend(other.contexts);
        if !other.context.is_empty() {
            self.context = other.context;
        }
    }
}

impl Context {
    /// The credentials, decoded.
    pub fn creds(&self) -> Result<machined_api::client::Creds> {
        let d = |what: &str, v: &str| {
            machined_pki::unb64(v).map_err(|e| anyhow!("mctlconfig: {what}: {e}"))
        };
        Ok(machined_api::client::Creds::Mtls {
            ca_pem: d("ca", &self.ca)?,
            cert_pem: d("crt", &self.crt)?,
            key_pem: d("key", &self.key)?,
        })
    }
}
