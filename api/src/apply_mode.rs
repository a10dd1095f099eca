//! How an applied config takes effect: at once (auto, no-reboot), on the
//! next start (staged), or for a while (try: rolled back unless another
//! apply comes first); and the diff a dry run shows.

use crate::store::NodeStore;
use machined_resources::config::{self, patch};
use machined_resources::types::MachineConfigSpec;
use machined_resources::State;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Counts applies, so a pending try rollback knows it was superseded.
#[derive(Clone, Default)]
pub struct Generation(Arc<AtomicU64>);

impl Generation {
    pub fn bump(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn current(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// After `after`, unless another apply came (`gen` moved on), puts back the
/// persisted config, or maintenance mode when there is none.
pub fn schedule_rollback(
    state: State,
    store: NodeStore,
    lock: Arc<tokio::sync::Mutex<()>>,
    gen: Generation,
    mine: u64,
    after: Duration,
) {
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        let _guard = lock.lock().await;
        if gen.current() != mine {
            return;
        }
        let persisted = store.load().ok().flatten();
        let parsed = persisted
            .as_deref()
            .and_then(|t| config::parse(t).ok().map(|p| (p, t.to_string())));
        match parsed {
            Some((p, text)) => {
                if let Err(e) = crate::MachineApi::publish(&state, p, &text) {
                    tracing::error!(error = %machined_resources::error::chain(&e), "try: rolling back failed");
                    return;
                }
                tracing::warn!(after_secs = after.as_secs(), "try: config rolled back");
            }
            None => {
                let r = state.destroy_typed::<MachineConfigSpec>(
                    MachineConfigSpec::ID,
                    crate::store::CONFIG_OWNER,
                );
                if let Err(e) = r {
                    tracing::error!(error = %machined_resources::error::chain(&e), "try: rolling back to maintenance mode failed");
                    return;
                }
                tracing::warn!("try: config rolled back; back in maintenance mode");
            }
        }
    });
}

/// Documents keyed by kind and name (the v1alpha1 document: `v1alpha1`),
/// re-serialised. Both sides are configs that passed validation.
fn documents(text: &str) -> Vec<(String, String)> {
    patch::documents(text)
        .unwrap_or_default()
        .into_iter()
        .map(|v| {
            let id = match patch::doc_id(&v) {
                (Some(k), Some(n)) => format!("{k} {n}"),
                (Some(k), None) => k,
                (None, _) => "v1alpha1".into(),
            };
            (id, yaml_serde::to_string(&v).unwrap_or_default())
        })
        .collect()
}

/// The change from `old` to `new`, document by document (matched by kind
/// and name; formatting and comments aside), as unified diffs.
pub fn diff(old: &str, new: &str) -> String {
    let (a, b) = (documents(old), documents(new));
    let mut out = String::new();
    let mut ids: Vec<&String> = a.iter().map(|x| &x.0).collect();
    ids.extend(
        b.iter()
            .map(|x| &x.0)
            .filter(|id| !a.iter().any(|x| &x.0 == *id)),
    );
    for id in ids {
        let get = |docs: &[(String, String)]| {
            docs.iter()
                .find(|x| &x.0 == id)
                .map(|x| x.1.clone())
                .unwrap_or_default()
        };
        let (before, after) = (get(&a), get(&b));
        if before == after {
            continue;
        }
        let d = similar::TextDiff::from_lines(&before, &after);
        out.push_str(
            &d.unified_diff()
                .context_radius(3)
                .header(&format!("{id} (applied)"), &format!("{id} (new)"))
                .to_string(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_is_per_document_and_ignores_formatting() {
        let old = "version: v1alpha1\nmachine: {type: controlplane}\n---\nkind: LinkConfig\nname: eth0\nmtu: 1500\n";
        let new = "version: v1alpha1\nmachine:\n  type: controlplane\n---\nkind: LinkConfig\nname: eth0\nmtu: 9000\n---\nkind: HostnameConfig\nhostname: a\n";
        let d = diff(old, new);
        assert!(!d.contains("v1alpha1 (applied)"), "formatting only: {d}");
        assert!(d.contains("--- LinkConfig eth0 (applied)"), "{d}");
        assert!(d.contains("-mtu: 1500") && d.contains("+mtu: 9000"), "{d}");
        assert!(
            d.contains("+++ HostnameConfig (new)") && d.contains("+hostname: a"),
            "{d}"
        );
        assert_eq!(diff(old, old), "");
    }
}
