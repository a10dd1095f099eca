//! A `newc` cpio archive, as the kernel unpacks an initramfs: every entry
//! with owner root, time 0 and inode numbers in order, so the same entries
//! always give the same bytes.

use std::collections::BTreeMap;

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir,
    /// Contents and permission bits (0o755, 0o644).
    File(Vec<u8>, u32),
    /// A character device: major, minor.
    Char(u32, u32),
}

/// Entries by path (no leading `/`); sorted, so a parent precedes its
/// children.
#[derive(Debug, Default)]
pub struct Archive {
    entries: BTreeMap<String, Node>,
}

impl Archive {
    /// Adds `path` and every missing parent directory. A later add of the
    /// same path replaces the earlier one.
    pub fn add(&mut self, path: &str, node: Node) {
        let path = path.trim_start_matches('/').to_string();
        let mut parent = String::new();
        for part in path
            .split('/')
            .collect::<Vec<_>>()
            .iter()
            .rev()
            .skip(1)
            .rev()
        {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            self.entries.entry(parent.clone()).or_insert(Node::Dir);
        }
        self.entries.insert(path, node);
    }

    /// The paths and sizes of every file, in order.
    pub fn files(&self) -> Vec<(&str, usize)> {
        self.entries
            .iter()
            .filter_map(|(p, n)| match n {
                Node::File(data, _) => Some((p.as_str(), data.len())),
                _ => None,
            })
            .collect()
    }

    /// The archive's bytes, ending with the `TRAILER!!!` entry.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (ino, (path, node)) in self.entries.iter().enumerate() {
            let (mode, data, rdev): (u32, &[u8], (u32, u32)) = match node {
                Node::Dir => (0o040755, &[], (0, 0)),
                Node::File(d, perm) => (0o100000 | (perm & 0o7777), d, (0, 0)),
                Node::Char(ma, mi) => (0o020600, &[], (*ma, *mi)),
            };
            let nlink = if matches!(node, Node::Dir) { 2 } else { 1 };
            entry(&mut out, ino as u32 + 1, mode, nlink, data, rdev, path);
        }
        entry(&mut out, 0, 0, 1, &[], (0, 0), "TRAILER!!!");
        out
    }
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

fn entry(
    out: &mut Vec<u8>,
    ino: u32,
    mode: u32,
    nlink: u32,
    data: &[u8],
    rdev: (u32, u32),
    name: &str,
) {
    let fields = [
        ino,
        mode,
        0, // uid
        0, // gid
        nlink,
        0, // mtime
        data.len() as u32,
        0, // dev major
        0, // dev minor
        rdev.0,
        rdev.1,
        name.len() as u32 + 1,
        0, // check
    ];
    out.extend_from_slice(b"070701");
    for f in fields {
        out.extend_from_slice(format!("{f:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_newc_with_parents_first_and_no_times() {
        let mut a = Archive::default();
        a.add("/usr/bin/etcd", Node::File(b"ELF".to_vec(), 0o755));
        a.add("/dev/console", Node::Char(5, 1));
        let b = a.to_bytes();
        let text = String::from_utf8_lossy(&b);
        // dev, dev/console, usr, usr/bin, usr/bin/etcd, then the trailer.
        let names: Vec<&str> = [
            "dev\0",
            "dev/console\0",
            "usr\0",
            "usr/bin\0",
            "usr/bin/etcd\0",
            "TRAILER!!!\0",
        ]
        .into_iter()
        .collect();
        let mut at = 0;
        for n in names {
            let i = text[at..]
                .find(n)
                .unwrap_or_else(|| panic!("{n:?} missing or out of order"));
            at += i + n.len();
        }
        // Header of the first entry: magic, ino 1, a directory, uid/gid 0,
        // mtime 0.
        assert_eq!(&b[..6], b"070701");
        assert_eq!(&b[6..14], b"00000001");
        assert_eq!(&b[14..22], b"000041ed");
        assert_eq!(&b[22..38], b"0000000000000000");
        assert_eq!(&b[46..54], b"00000000");
        assert!(b.len().is_multiple_of(4));
        // The device node: rdev 5:1.
        let dev = text
            .find("070701")
            .and_then(|_| text.match_indices("070701").nth(1))
            .map(|(i, _)| i)
            .unwrap();
        assert_eq!(&b[dev + 6 + 8 * 9..dev + 6 + 8 * 11], b"0000000500000001");
        // Same entries, same bytes, whatever the order of adding.
        let mut c = Archive::default();
        c.add("/dev/console", Node::Char(5, 1));
        c.add("/usr/bin/etcd", Node::File(b"ELF".to_vec(), 0o755));
        assert_eq!(c.to_bytes(), b);
    }
}
