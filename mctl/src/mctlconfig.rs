//! The client config (`--mctlconfig`, `MCTLCONFIG`, `~/.mctl/config`):
//! contexts with endpoints, nodes and credentials, like talosconfig.

use anyhow::{anyhow, bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
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
            Ok(t) => yaml_serde::from_str(&t)
                .with_context(|| format!("{}: not a valid mctlconfig", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(MctlConfig::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let text = yaml_serde::to_string(self)?;
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

    /// Adds `other`'s contexts and makes its current context current. A
    /// context named like one already here is renamed (`demo` becomes
    /// `demo-1`, `demo-2`, ...) unless it is the very same: nothing here is
    /// ever overwritten. Returns the renames (old name, new name).
    pub fn merge(&mut self, other: MctlConfig) -> Vec<(String, String)> {
        let mut renamed = Vec::new();
        let mut current = other.context.clone();
        for (name, ctx) in other.contexts {
            let taken = |n: &str| self.contexts.get(n).is_some_and(|c| *c != ctx);
            let mut new = name.clone();
            let mut i = 1;
            while taken(&new) {
                new = format!("{name}-{i}");
                i += 1;
            }
            if new != name {
                if current == name {
                    current = new.clone();
                }
                renamed.push((name, new.clone()));
            }
            self.contexts.insert(new, ctx);
        }
        if !current.is_empty() {
            self.context = current;
        }
        renamed
    }

    /// Removes context `name`; an error if there is none. Removing the
    /// current one leaves no current context.
    pub fn remove(&mut self, name: &str) -> Result<()> {
        if self.contexts.remove(name).is_none() {
            bail!(
                "context {name:?} not found (have: {})",
                self.contexts.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        if self.context == name {
            self.context.clear();
        }
        Ok(())
    }

    /// The context named by `--context`, else the current one, to change.
    pub fn current_mut(&mut self, name: &Option<String>) -> Result<(String, &mut Context)> {
        let n = name.clone().unwrap_or_else(|| self.context.clone());
        if n.is_empty() {
            bail!("no current context: choose one with `mctl config context NAME` or --context");
        }
        let have = self.contexts.keys().cloned().collect::<Vec<_>>().join(", ");
        match self.contexts.get_mut(&n) {
            Some(c) => Ok((n, c)),
            None => bail!("context {n:?} not found (have: {have})"),
        }
    }
}

impl Context {
    /// The credentials, decoded.
    pub fn creds(&self) -> Result<machined_client::client::Creds> {
        let d = |what: &str, v: &str| {
            machined_pki::unb64(v).map_err(|e| anyhow!("mctlconfig: {what}: {e}"))
        };
        Ok(machined_client::client::Creds::Mtls {
            ca_pem: d("ca", &self.ca)?,
            cert_pem: d("crt", &self.crt)?,
            key_pem: d("key", &self.key)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(key: &str) -> Context {
        Context {
            endpoints: vec!["10.5.0.11".into()],
            key: key.into(),
            ..Default::default()
        }
    }

    fn config(current: &str, contexts: &[(&str, &str)]) -> MctlConfig {
        MctlConfig {
            context: current.into(),
            contexts: contexts
                .iter()
                .map(|(n, k)| (n.to_string(), ctx(k)))
                .collect(),
        }
    }

    #[test]
    fn merging_never_overwrites_a_context() {
        let mut mine = config("demo", &[("demo", "first"), ("other", "o")]);
        let renamed = mine.merge(config("demo", &[("demo", "second")]));
        assert_eq!(renamed, vec![("demo".to_string(), "demo-1".to_string())]);
        assert_eq!(
            mine.contexts["demo"].key, "first",
            "the first kept its credentials"
        );
        assert_eq!(mine.contexts["demo-1"].key, "second");
        assert_eq!(mine.context, "demo-1", "the merged one is current");
        // Again: demo-2; and the very same context merged twice stays one.
        assert_eq!(
            mine.merge(config("demo", &[("demo", "third")]))[0].1,
            "demo-2"
        );
        assert!(mine.merge(config("other", &[("other", "o")])).is_empty());
        assert_eq!(mine.contexts.len(), 4);
    }

    #[test]
    fn removing_and_changing_a_context() {
        let mut c = config("a", &[("a", "1"), ("b", "2")]);
        assert!(c
            .remove("nope")
            .unwrap_err()
            .to_string()
            .contains("have: a, b"));
        c.current_mut(&None).unwrap().1.endpoints = vec!["10.5.0.12".into()];
        assert_eq!(c.contexts["a"].endpoints, vec!["10.5.0.12"]);
        c.remove("a").unwrap();
        assert!(c.context.is_empty());
        assert!(c
            .current_mut(&None)
            .unwrap_err()
            .to_string()
            .contains("no current context"));
        assert!(c.current_mut(&Some("b".into())).is_ok());
    }
}
