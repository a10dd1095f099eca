use super::*;
use crate::types::LinkSpec;

fn link(up: bool) -> LinkSpec {
    LinkSpec {
        name: "eth0".into(),
        up,
        ..Default::default()
    }
}

#[test]
fn create_get_list_destroy() {
    let s = State::new();
    let r = s.put("ctl", "eth0", &link(true)).unwrap();
    assert_eq!(r.metadata.version, 1);
    assert_eq!(r.metadata.owner, "ctl");
    let got = s.get_typed::<LinkSpec>("eth0").unwrap().unwrap();
    assert!(got.spec.up);
    assert_eq!(s.list_typed::<LinkSpec>().unwrap().len(), 1);
    assert!(matches!(
        s.create(r.clone()),
        Err(StateError::AlreadyExists { .. })
    ));
    s.destroy("network", "LinkSpec", "eth0", "ctl").unwrap();
    assert!(s.get_typed::<LinkSpec>("eth0").unwrap().is_none());
    assert!(matches!(
        s.destroy("network", "LinkSpec", "eth0", "ctl"),
        Err(StateError::NotFound { .. })
    ));
}

#[test]
fn version_bumps_only_on_change_and_conflicts_are_detected() {
    let s = State::new();
    let v1 = s.put("ctl", "eth0", &link(true)).unwrap();
    let same = s.put("ctl", "eth0", &link(true)).unwrap();
    assert_eq!(same.metadata.version, 1, "unchanged write must not bump");
    let v2 = s.put("ctl", "eth0", &link(false)).unwrap();
    assert_eq!(v2.metadata.version, 2);
    assert_eq!(v2.metadata.created, v1.metadata.created);
    // A writer holding version 1 loses.
    let mut stale = v1.clone();
    stale.spec = serde_json::json!({"name": "eth0", "up": true, "layer": "operator"});
    assert!(matches!(
        s.update(stale),
        Err(StateError::Conflict {
            expected: 1,
            found: 2,
            ..
        })
    ));
}

#[test]
fn owners_are_enforced() {
    let s = State::new();
    s.put("a", "eth0", &link(true)).unwrap();
    assert!(matches!(
        s.put("b", "eth0", &link(false)),
        Err(StateError::Owner { .. })
    ));
    assert!(matches!(
        s.destroy("network", "LinkSpec", "eth0", "b"),
        Err(StateError::Owner { .. })
    ));
}

#[tokio::test]
async fn watch_lists_then_marks_then_follows() {
    let s = State::new();
    s.put("a", "eth0", &link(true)).unwrap();
    let mut w = s.watch("network", "LinkSpec");
    let e = w.next().await.unwrap();
    assert_eq!(e.kind, EventKind::Created);
    assert_eq!(e.resource.unwrap().metadata.id, "eth0");
    assert_eq!(w.next().await.unwrap().kind, EventKind::Bootstrapped);
    s.put("a", "eth0", &link(false)).unwrap();
    s.put("a", "eth0", &link(false)).unwrap(); // no-op: no event
    s.destroy("network", "LinkSpec", "eth0", "a").unwrap();
    let e = w.next().await.unwrap();
    assert_eq!(
        (e.kind, e.resource.unwrap().metadata.version),
        (EventKind::Updated, 2)
    );
    assert_eq!(w.next().await.unwrap().kind, EventKind::Destroyed);
    assert!(w.try_next().is_none());
    // Other types are not delivered.
    s.put(
        "a",
        "x",
        &crate::types::AddressSpec {
            address: "10.0.0.1/24".parse().unwrap(),
            link: "eth0".into(),
            layer: Default::default(),
            valid_until_ms: None,
        },
    )
    .unwrap();
    assert!(w.try_next().is_none());
}
