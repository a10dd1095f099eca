//! Whether every node lists the same members for a VIP group. Each node
//! campaigning for a group puts its list in etcd, on its session's lease
//! (`machined/vip-group-members/<group>/<node>`: the members' addresses,
//! sorted, comma-separated), and watches the others'. A node whose list
//! differs from another's says so in its `VIPStatus` (and the log): the
//! group's holder claims only the members its own config lists, so such a
//! group would move without the missing members.

use etcd_client::{Client, EventType, GetOptions, PutOptions, WatchOptions};
use std::net::IpAddr;
use std::time::Duration;
use tokio::sync::watch;

/// Longest value read (64 members of the longest IPv6 text, and commas).
const MAX_VALUE: usize = 64 * 40;

fn prefix(group: &str) -> String {
    format!("machined/vip-group-members/{group}/")
}

/// A node's list as it is written.
pub fn encode(members: &[IpAddr]) -> String {
    let mut m = members.to_vec();
    m.sort();
    m.dedup();
    m.iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A list read strictly: addresses, sorted, each once; else nothing.
pub fn decode(value: &[u8]) -> Option<Vec<IpAddr>> {
    if value.is_empty() || value.len() > MAX_VALUE {
        return None;
    }
    let text = std::str::from_utf8(value).ok()?;
    let ips: Vec<IpAddr> = text
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    ips.windows(2).all(|w| w[0] < w[1]).then_some(ips)
}

/// What differs between this node's list and the others' (node name, its
/// list if readable); empty when every list is the same.
pub fn differences(mine: &[IpAddr], others: &[(String, Option<Vec<IpAddr>>)]) -> String {
    let mut mine = mine.to_vec();
    mine.sort();
    let list = |l: &[IpAddr]| {
        l.iter()
            .map(IpAddr::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let notes: Vec<String> = others
        .iter()
        .filter_map(|(node, theirs)| match theirs {
            None => Some(format!("{node}'s list is unreadable")),
            Some(t) if *t == mine => None,
            Some(t) => Some(format!("{node} lists {}", list(t))),
        })
        .collect();
    if notes.is_empty() {
        return String::new();
    }
    format!(
        "the nodes do not list the same members for this VIP group: this node lists {}; {}",
        list(&mine),
        notes.join("; ")
    )
}

/// Puts this node's list (on `lease`) and publishes what differs from the
/// others' until dropped.
pub async fn watch_members(
    mut client: Client,
    (group, node): (String, String),
    members: Vec<IpAddr>,
    lease: i64,
    tx: watch::Sender<String>,
) {
    let (p, me) = (prefix(&group), encode(&members));
    let my_key = format!("{p}{node}");
    loop {
        let got = async {
            client
                .put(
                    my_key.as_str(),
                    me.as_str(),
                    Some(PutOptions::new().with_lease(lease)),
                )
                .await?;
            let r = client
                .get(p.as_str(), Some(GetOptions::new().with_prefix()))
                .await?;
            let mut others: Vec<(String, Option<Vec<IpAddr>>)> = r
                .kvs()
                .iter()
                .filter(|kv| kv.key() != my_key.as_bytes())
                .map(|kv| (node_of(&p, kv.key()), decode(kv.value())))
                .collect();
            publish(&tx, &members, &others);
            let rev = r.header().map_or(0, |h| h.revision());
            let opts = WatchOptions::new()
                .with_prefix()
                .with_start_revision(rev + 1);
            let mut events = client.watch(p.as_str(), Some(opts)).await?;
            while let Some(resp) = events.message().await? {
                for e in resp.events() {
                    let Some(kv) = e.kv() else { continue };
                    if kv.key() == my_key.as_bytes() {
                        continue;
                    }
                    let who = node_of(&p, kv.key());
                    others.retain(|(n, _)| *n != who);
                    if e.event_type() == EventType::Put {
                        others.push((who, decode(kv.value())));
                    }
                }
                publish(&tx, &members, &others);
            }
            Ok::<_, etcd_client::Error>(())
        }
        .await;
        if let Err(e) = got {
            tracing::debug!(%group, error = %machined_resources::error::chain(&e), "watching the group's members failed; retrying");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The session's tasks that publish this node's list of `group` (on
/// `lease`) and keep the group's view noting what differs: none for a VIP
/// alone.
pub fn tasks(
    c: &dyn super::elector::Campaign,
    group: &super::group::Group,
    node: &str,
    lease: i64,
) -> Vec<tokio::task::JoinHandle<()>> {
    use tracing::Instrument;
    let Some(name) = group.lead().options.group.clone() else {
        return Vec::new();
    };
    let members = group.specs.iter().map(|s| s.ip).collect();
    let (tx, mut rx) = watch::channel(String::new());
    let shared = group.shared().clone();
    let note = async move {
        while rx.changed().await.is_ok() {
            let n = rx.borrow_and_update().clone();
            shared.update(|v| v.group_note = n);
        }
    };
    vec![
        tokio::spawn(
            c.watch_group_members((name, node.to_string()), members, lease, tx)
                .in_current_span(),
        ),
        tokio::spawn(note.in_current_span()),
    ]
}

fn node_of(prefix: &str, key: &[u8]) -> String {
    let k = String::from_utf8_lossy(key);
    let n = k.strip_prefix(prefix).unwrap_or(&k);
    n.chars().take(64).collect()
}

fn publish(tx: &watch::Sender<String>, mine: &[IpAddr], others: &[(String, Option<Vec<IpAddr>>)]) {
    let note = differences(mine, others);
    tx.send_if_modified(|cur| {
        if *cur == note {
            return false;
        }
        if !note.is_empty() {
            tracing::warn!(note = %note, "VIP group members differ between nodes");
        }
        *cur = note.clone();
        true
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(s: &[&str]) -> Vec<IpAddr> {
        s.iter().map(|i| i.parse().unwrap()).collect()
    }

    #[test]
    fn lists_are_written_sorted_and_read_strictly() {
        let l = ips(&["fd00::50", "10.5.0.51", "10.5.0.50"]);
        let text = encode(&l);
        assert_eq!(text, "10.5.0.50,10.5.0.51,fd00::50");
        assert_eq!(
            decode(text.as_bytes()),
            Some(ips(&["10.5.0.50", "10.5.0.51", "fd00::50"]))
        );
        let long = "1".repeat(MAX_VALUE + 1);
        for bad in [
            &b""[..],
            b"10.5.0.51,10.5.0.50",
            b"10.5.0.50,,",
            b"x",
            b"\xff",
            long.as_bytes(),
        ] {
            assert_eq!(decode(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn differences_name_the_node_and_the_members() {
        let mine = ips(&["10.5.0.50", "10.5.0.51"]);
        assert_eq!(differences(&mine, &[]), "");
        let same = ("cp2".to_string(), Some(ips(&["10.5.0.50", "10.5.0.51"])));
        assert_eq!(differences(&mine, std::slice::from_ref(&same)), "");
        let fewer = ("cp3".to_string(), Some(ips(&["10.5.0.50"])));
        let more = (
            "cp4".to_string(),
            Some(ips(&["10.5.0.50", "10.5.0.51", "10.5.0.52"])),
        );
        let junk = ("cp5".to_string(), None);
        let d = differences(&mine, &[same, fewer, more, junk]);
        assert!(
            d.starts_with("the nodes do not list the same members"),
            "{d}"
        );
        assert!(d.contains("this node lists 10.5.0.50, 10.5.0.51;"), "{d}");
        assert!(d.contains("cp3 lists 10.5.0.50;"), "{d}");
        assert!(
            d.contains("cp4 lists 10.5.0.50, 10.5.0.51, 10.5.0.52;"),
            "{d}"
        );
        assert!(d.contains("cp5's list is unreadable"), "{d}");
        assert!(!d.contains("cp2"), "{d}");
    }
}
