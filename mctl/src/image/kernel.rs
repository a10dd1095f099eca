//! Debian's kernel package: downloaded with `apt-get download` (never
//! installed), unpacked with `dpkg-deb -x` into a cache directory.

use super::kmod;
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Kernel {
    /// The package file's name, e.g. `linux-image-6.1.0-57-amd64_6.1.192-3_amd64.deb`.
    pub package: String,
    pub vmlinuz: PathBuf,
    /// `lib/modules/<version>` of the unpacked package.
    pub modules_dir: PathBuf,
}

fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The kernel package `linux-image-amd64` depends on now.
fn current_package() -> Result<String> {
    let text = run(Command::new("apt-cache").args(["depends", "linux-image-amd64"]))?;
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-"))
        .map(str::to_string)
        .ok_or_else(|| anyhow!("apt-cache depends linux-image-amd64 names no kernel package"))
}

fn download(cache: &Path) -> Result<PathBuf> {
    let pkg = current_package()?;
    let find = || -> Option<PathBuf> {
        std::fs::read_dir(cache)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{pkg}_")) && n.ends_with(".deb"))
            })
            .max()
    };
    if let Some(p) = find() {
        return Ok(p);
    }
    println!("==> downloading {pkg} with apt-get download (not installed)");
    run(Command::new("apt-get")
        .args(["download", "-q", &pkg])
        .current_dir(cache))?;
    find().ok_or_else(|| anyhow!("apt-get download {pkg} left no .deb in {}", cache.display()))
}

/// The kernel package, unpacked (once) under `cache`.
pub fn unpacked(deb: Option<&Path>, cache: &Path) -> Result<Kernel> {
    std::fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    let deb = match deb {
        Some(d) => d.to_path_buf(),
        None => download(cache)?,
    };
    let package = deb
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow!("{} is not a package file name", deb.display()))?
        .to_string();
    let root = cache.join(package.trim_end_matches(".deb"));
    if !root.join("boot").is_dir() {
        let tmp = cache.join(format!(".unpack-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tmp))?;
        let _ = std::fs::remove_dir_all(&root);
        std::fs::rename(&tmp, &root).context("moving the unpacked kernel into the cache")?;
    }
    let vmlinuz = std::fs::read_dir(root.join("boot"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-"))
        })
        .ok_or_else(|| anyhow!("{package} has no boot/vmlinuz-*"))?;
    let version = vmlinuz
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("vmlinuz-"))
        .unwrap_or_default()
        .to_string();
    let modules_dir = root.join("lib/modules").join(&version);
    Ok(Kernel {
        package,
        vmlinuz,
        modules_dir,
    })
}

impl Kernel {
    /// `wanted` and their dependencies in load order, with their files.
    pub fn modules(&self, wanted: &[&str]) -> Result<Vec<(String, PathBuf)>> {
        let index = kmod::index(&self.modules_dir.join("kernel"))
            .with_context(|| format!("reading {}", self.modules_dir.display()))?;
        let deps = |m: &str| {
            let p = index.get(m)?;
            std::fs::read(p).ok().map(|b| kmod::depends(&b))
        };
        let order = kmod::load_order(wanted, deps).map_err(|e| anyhow!(e))?;
        Ok(order
            .into_iter()
            .filter_map(|m| index.get(&m).cloned().map(|p| (m, p)))
            .collect())
    }
}
