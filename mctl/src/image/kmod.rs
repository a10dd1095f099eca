//! Kernel modules of an unpacked Debian kernel package: found by name, their
//! dependencies read from each module's `.modinfo` (`depends=`; the package
//! ships no `modules.dep`), and put in load order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A module's name as the kernel has it (`crc32c-intel` is `crc32c_intel`).
pub fn module_name(file_stem: &str) -> String {
    file_stem.replace('-', "_")
}

/// Every `.ko` under `dir`, by module name.
pub fn index(dir: &Path) -> std::io::Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "ko") {
                if let Some(stem) = p.file_stem().and_then(|s| s.to_str()) {
                    out.insert(module_name(stem), p.clone());
                }
            }
        }
    }
    Ok(out)
}

/// The `depends=` list of a module file's `.modinfo`.
pub fn depends(ko: &[u8]) -> Vec<String> {
    let key = b"\0depends=";
    let Some(at) = ko.windows(key.len()).position(|w| w == key) else {
        return Vec::new();
    };
    let rest = &ko[at + key.len()..];
    let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
    String::from_utf8_lossy(&rest[..end])
        .split(',')
        .filter(|s| !s.is_empty())
        .map(module_name)
        .collect()
}

/// `wanted` and everything they need, dependencies before their users,
/// each once. `deps_of` gives a module's direct dependencies, `None` for a
/// module that does not exist.
pub fn load_order(
    wanted: &[&str],
    mut deps_of: impl FnMut(&str) -> Option<Vec<String>>,
) -> Result<Vec<String>, String> {
    fn visit(
        m: &str,
        deps_of: &mut dyn FnMut(&str) -> Option<Vec<String>>,
        out: &mut Vec<String>,
        path: &mut Vec<String>,
    ) -> Result<(), String> {
        if out.iter().any(|o| o == m) {
            return Ok(());
        }
        if path.iter().any(|p| p == m) {
            return Err(format!(
                "modules depend on each other in a loop: {}",
                path.join(" -> ")
            ));
        }
        let deps = deps_of(m).ok_or_else(|| format!("no module {m}"))?;
        path.push(m.to_string());
        for d in deps {
            visit(&d, deps_of, out, path)?;
        }
        path.pop();
        out.push(m.to_string());
        Ok(())
    }
    let mut out = Vec::new();
    for m in wanted {
        visit(&module_name(m), &mut deps_of, &mut out, &mut Vec::new())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depends_is_read_from_modinfo() {
        let ko = b"\x7fELF...\0license=GPL\0depends=virtio_ring,virtio,net_failover\0intree=Y\0";
        assert_eq!(depends(ko), vec!["virtio_ring", "virtio", "net_failover"]);
        assert!(depends(b"\0depends=\0").is_empty());
        assert!(depends(b"no modinfo").is_empty());
    }

    #[test]
    fn load_order_puts_dependencies_first_once() {
        let table: BTreeMap<&str, Vec<&str>> = [
            ("virtio_net", vec!["virtio_ring", "virtio", "net_failover"]),
            ("virtio_blk", vec!["virtio", "virtio_ring"]),
            ("net_failover", vec!["failover"]),
            ("failover", vec![]),
            ("virtio", vec![]),
            ("virtio_ring", vec!["virtio"]),
            ("a", vec!["b"]),
            ("b", vec!["a"]),
        ]
        .into_iter()
        .collect();
        let deps = |m: &str| {
            table
                .get(m)
                .map(|d| d.iter().map(|s| s.to_string()).collect())
        };
        assert_eq!(
            load_order(&["virtio-net", "virtio_blk"], deps).unwrap(),
            vec![
                "virtio",
                "virtio_ring",
                "failover",
                "net_failover",
                "virtio_net",
                "virtio_blk"
            ]
        );
        assert_eq!(load_order(&["nope"], deps).unwrap_err(), "no module nope");
        assert!(load_order(&["a"], deps).unwrap_err().contains("loop"));
    }
}
