//! Keeping the kernel from speaking for a VIP by itself.
//!
//! The VIP's address lives on `lo`, not on its link. With `arp_ignore` 1 on
//! the link the kernel answers an ARP request only for an address configured
//! on the link it came in on, so it never answers for the VIP; with
//! `arp_announce` 2 it never uses the VIP as the sender of its own requests;
//! and the gratuitous ARP the kernel sends for every address of a link
//! after a live migration or a carrier change covers only the link's own
//! addresses. IPv6 needs nothing: the kernel answers a neighbour
//! solicitation only for an address on the receiving link, and never
//! sources one from an address of another link.
//!
//! This is static configuration, in effect whether machined runs, is
//! frozen or is dead: what answers for the VIP is machined, and only with
//! fresh proof (see `vip::speaker`).

use super::NetError;

/// `arp_ignore` values under which the kernel does not answer for an
/// address that is not on the receiving link: 1 (only addresses on it), 2
/// (and in the sender's subnet), 8 (never). 3 answers for every address
/// not of host scope, 0 and 4-7 for every local address.
fn ignores_other_links(v: u32) -> bool {
    matches!(v, 1 | 2 | 8)
}

/// The kernel applies the larger of `all` and the link's own value.
fn effective(all: u32, dev: u32) -> u32 {
    all.max(dev)
}

/// What to write to the link so that the effective values keep it quiet,
/// or why no value on the link can: (arp_ignore, arp_announce) to set.
fn plan(
    all_ignore: u32,
    dev_ignore: u32,
    all_announce: u32,
    dev_announce: u32,
) -> Result<(Option<u32>, Option<u32>), String> {
    let ignore = (!ignores_other_links(dev_ignore)).then_some(1);
    let now = effective(all_ignore, ignore.unwrap_or(dev_ignore));
    if !ignores_other_links(now) {
        return Err(format!(
            "net.ipv4.conf.all.arp_ignore is {all_ignore}: the kernel would answer ARP for the VIP itself (0, 1, 2 or 8 let machined answer alone)"
        ));
    }
    let announce = (effective(all_announce, dev_announce) != 2).then_some(2);
    if all_announce > 2 {
        return Err(format!(
            "net.ipv4.conf.all.arp_announce is {all_announce}, not a value the kernel knows"
        ));
    }
    Ok((ignore, announce))
}

fn read(path: &str) -> Result<u32, NetError> {
    let s = std::fs::read_to_string(path).map_err(|e| NetError::io(format!("read {path}"), e))?;
    s.trim()
        .parse()
        .map_err(|_| NetError::new(format!("read {path}"), format!("not a number: {s:?}")))
}

fn write(path: &str, v: u32) -> Result<(), NetError> {
    std::fs::write(path, format!("{v}\n")).map_err(|e| NetError::io(format!("write {path}"), e))
}

/// Makes link `name` keep quiet about the VIPs (see the module docs);
/// idempotent, and cheap when nothing needs changing (four small reads).
/// Returns whether it had to change anything.
pub fn silence(name: &str) -> Result<bool, NetError> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(NetError::new(
            "silence link",
            format!("bad link name {name:?}"),
        ));
    }
    let dir = format!("/proc/sys/net/ipv4/conf/{name}");
    let all = "/proc/sys/net/ipv4/conf/all";
    let (ignore, announce) = plan(
        read(&format!("{all}/arp_ignore"))?,
        read(&format!("{dir}/arp_ignore"))?,
        read(&format!("{all}/arp_announce"))?,
        read(&format!("{dir}/arp_announce"))?,
    )
    .map_err(|why| NetError::new(format!("silence link {name}"), why))?;
    if let Some(v) = ignore {
        write(&format!("{dir}/arp_ignore"), v)?;
    }
    if let Some(v) = announce {
        write(&format!("{dir}/arp_announce"), v)?;
    }
    Ok(ignore.is_some() || announce.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_is_set_only_where_the_effective_value_would_answer() {
        // (all_ignore, dev_ignore, all_announce, dev_announce) -> writes
        type Case = ((u32, u32, u32, u32), (Option<u32>, Option<u32>));
        let ok: &[Case] = &[
            ((0, 0, 0, 0), (Some(1), Some(2))),
            ((0, 1, 0, 2), (None, None)),
            ((0, 2, 0, 2), (None, None)),
            ((0, 8, 0, 2), (None, None)),
            ((1, 0, 0, 0), (Some(1), Some(2))),
            ((0, 3, 2, 0), (Some(1), None)),
            ((0, 5, 1, 1), (Some(1), Some(2))),
            ((8, 0, 0, 0), (Some(1), Some(2))), // effective 8: never answers
        ];
        for (input, want) in ok {
            let (a, b, c, d) = *input;
            assert_eq!(plan(a, b, c, d), Ok(*want), "{input:?}");
        }
    }

    #[test]
    fn an_all_value_that_makes_the_kernel_answer_is_refused_with_the_reason() {
        for all in [3, 4, 7] {
            let e = plan(all, 0, 0, 0).unwrap_err();
            assert!(
                e.contains(&format!("all.arp_ignore is {all}")),
                "{all}: {e}"
            );
        }
        assert!(plan(0, 0, 3, 0).unwrap_err().contains("arp_announce is 3"));
    }

    #[test]
    fn link_names_cannot_leave_the_directory() {
        for bad in ["", "../all", ".", "..", "a/b"] {
            assert!(silence(bad).is_err(), "{bad:?}");
        }
    }
}
