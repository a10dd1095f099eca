//! `mctl image build`: the OS image machined ships in — Debian's kernel,
//! unmodified, and an initramfs with machined as `/init`, etcd, the kernel
//! modules machined loads, mke2fs for the state disk, CA certificates and
//! the libraries these need. No shell, no package manager. The same inputs
//! give the same bytes (sorted entries, no times, owner root, fixed gzip).

mod cpio;
mod kernel;
pub mod kmod;

use anyhow::{bail, Context, Result};
use cpio::{Archive, Node};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Modules machined loads at boot, in this order (dependencies first).
pub const MODULES: &[&str] = &[
    "virtio_pci",
    "virtio_net",
    "virtio_blk",
    "crc32c_generic",
    "ext4",
    "8021q",
    "bonding",
    "bridge",
    // The ACPI power button, read as input events.
    "button",
    "evdev",
];

#[derive(clap::Subcommand, Debug)]
pub enum ImageCmd {
    /// Write vmlinuz, initramfs.img and manifest.txt to a directory.
    Build(BuildArgs),
}

#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// Where the image goes.
    #[arg(long, default_value = "_out/image")]
    pub out: PathBuf,
    /// The machined binary to use as /init (default: beside mctl).
    #[arg(long)]
    pub machined: Option<PathBuf>,
    /// The etcd binary (default: etcd on PATH, Debian's etcd-server).
    #[arg(long)]
    pub etcd: Option<PathBuf>,
    /// A Debian kernel package to use instead of downloading
    /// linux-image-amd64's current one with apt.
    #[arg(long)]
    pub kernel_deb: Option<PathBuf>,
    /// Where downloaded and unpacked kernel packages are kept.
    #[arg(long, default_value = "/var/cache/mctl")]
    pub cache: PathBuf,
}

pub fn run(cmd: &ImageCmd) -> Result<bool> {
    let ImageCmd::Build(a) = cmd;
    let built = build(a)?;
    print!("{}", built.manifest);
    println!(
        "==> image in {}: vmlinuz {} bytes, initramfs.img {} bytes",
        a.out.display(),
        built.kernel_len,
        built.initramfs_len
    );
    Ok(true)
}

/// Builds the image into `out` with `machined` as /init (defaults for the
/// rest), printing only its size.
pub fn build_quiet(out: &Path, machined: &Path) -> Result<()> {
    let a = BuildArgs {
        out: out.to_path_buf(),
        machined: Some(machined.to_path_buf()),
        etcd: None,
        kernel_deb: None,
        cache: PathBuf::from("/var/cache/mctl"),
    };
    let b = build(&a)?;
    println!(
        "    vmlinuz {} bytes, initramfs.img {} bytes (contents: {})",
        b.kernel_len,
        b.initramfs_len,
        out.join("manifest.txt").display()
    );
    Ok(())
}

struct Built {
    manifest: String,
    kernel_len: usize,
    initramfs_len: usize,
}

/// `which`, without a shell.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn beside_mctl(name: &str) -> Result<PathBuf> {
    let p = std::env::current_exe()?.with_file_name(name);
    if p.is_file() {
        Ok(p)
    } else {
        bail!("no {name} beside mctl ({}); pass --{name}", p.display())
    }
}

/// The shared libraries `bin` loads, as `ldd` lists them (loader included).
fn libraries(bin: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("ldd")
        .arg(bin)
        .output()
        .context("running ldd")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("not a dynamic executable") || !out.status.success() {
        return Ok(Vec::new());
    }
    Ok(text
        .lines()
        .filter_map(|l| l.split_whitespace().find(|t| t.starts_with('/')))
        .map(PathBuf::from)
        .collect())
}

fn read(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).with_context(|| format!("reading {}", p.display()))
}

/// Adds `bin` at `at` with every library it needs at its own path.
fn add_binary(a: &mut Archive, bin: &Path, at: &str) -> Result<()> {
    a.add(at, Node::File(read(bin)?, 0o755));
    for lib in libraries(bin)? {
        a.add(&lib.to_string_lossy(), Node::File(read(&lib)?, 0o755));
    }
    Ok(())
}

/// `bin` without its debug information (`strip --strip-debug`, which is
/// deterministic), when binutils is there; else `bin` as it is.
fn stripped(bin: &Path, tmp: &Path) -> Result<PathBuf> {
    let Some(strip) = on_path("strip") else {
        return Ok(bin.to_path_buf());
    };
    let out = tmp.join(bin.file_name().unwrap_or_default());
    let st = Command::new(strip)
        .arg("--strip-debug")
        .arg("-o")
        .arg(&out)
        .arg(bin)
        .status()
        .context("running strip")?;
    if !st.success() {
        bail!("strip --strip-debug {} failed", bin.display());
    }
    Ok(out)
}

fn build(args: &BuildArgs) -> Result<Built> {
    let machined = match &args.machined {
        Some(p) => p.clone(),
        None => beside_mctl("machined")?,
    };
    let etcd = match &args.etcd {
        Some(p) => p.clone(),
        None => on_path("etcd").context("no etcd on PATH (Debian's etcd-server); pass --etcd")?,
    };
    let mke2fs = on_path("mke2fs")
        .or_else(|| Some(PathBuf::from("/usr/sbin/mke2fs")).filter(|p| p.is_file()))
        .context("no mke2fs (e2fsprogs)")?;
    let k = kernel::unpacked(args.kernel_deb.as_deref(), &args.cache)?;

    let mut a = Archive::default();
    for d in ["proc", "sys", "dev", "run", "tmp", "var", "etc"] {
        a.add(d, Node::Dir);
    }
    a.add("dev/console", Node::Char(5, 1));
    a.add("dev/null", Node::Char(1, 3));
    let tmp = args.cache.join(format!(".strip-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let init = stripped(&machined, &tmp);
    let added = init.and_then(|m| add_binary(&mut a, &m, "init"));
    let _ = std::fs::remove_dir_all(&tmp);
    added?;
    add_binary(&mut a, &etcd, "usr/bin/etcd")?;
    add_binary(&mut a, &mke2fs, "usr/sbin/mke2fs")?;
    for f in ["/etc/ssl/certs/ca-certificates.crt", "/etc/mke2fs.conf"] {
        a.add(f, Node::File(read(Path::new(f))?, 0o644));
    }
    let modules = k.modules(MODULES)?;
    let mut order = String::new();
    for (name, path) in &modules {
        a.add(
            &format!("lib/modules/{name}.ko"),
            Node::File(read(path)?, 0o644),
        );
        order.push_str(name);
        order.push('\n');
    }
    a.add(
        "lib/modules/load-order",
        Node::File(order.into_bytes(), 0o644),
    );
    a.add(
        "etc/os-release",
        Node::File(
            format!(
                "NAME=machined\nID=machined\nVERSION_ID={}\nKERNEL={}\n",
                env!("CARGO_PKG_VERSION"),
                k.package
            )
            .into_bytes(),
            0o644,
        ),
    );

    let initramfs = gzip(&a.to_bytes())?;
    let kernel = read(&k.vmlinuz)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut manifest = format!("kernel package: {}\n", k.package);
    manifest.push_str(&format!(
        "vmlinuz: {} bytes, sha256 {}\n",
        kernel.len(),
        sha256(&kernel)
    ));
    manifest.push_str(&format!(
        "initramfs.img: {} bytes, sha256 {}\n",
        initramfs.len(),
        sha256(&initramfs)
    ));
    manifest.push_str("initramfs contents:\n");
    for (path, len) in a.files() {
        manifest.push_str(&format!("  {len:>10}  /{path}\n"));
    }
    for (name, data) in [
        ("vmlinuz", &kernel),
        ("initramfs.img", &initramfs),
        ("manifest.txt", &manifest.clone().into_bytes()),
    ] {
        let p = args.out.join(name);
        std::fs::write(&p, data).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(Built {
        manifest,
        kernel_len: kernel.len(),
        initramfs_len: initramfs.len(),
    })
}

fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    // No name and time 0 in the header: the bytes depend on the data only.
    let mut z = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    z.write_all(data)?;
    Ok(z.finish()?)
}

fn sha256(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
