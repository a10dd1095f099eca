use super::runner::{Desire, View};
use super::vip_desire::desire;
use crate::Ctx;
use machined_resources::types::{EtcdCerts, EtcdPhase, EtcdSpec, EtcdStatus, LinkStatus, VipSpec};
use machined_resources::State;

#[test]
fn transitions_count_real_holder_changes_only() {
    let mut v = View::default();
    v.set_holder(Some("a".into()));
    assert_eq!(v.transitions, 1);
    v.set_holder(None); // unknown for a while (e.g. a session restart)
    v.set_holder(Some("a".into())); // same holder again: not a transition
    assert_eq!(v.transitions, 1);
    v.set_holder(Some("b".into()));
    assert_eq!((v.transitions, v.holder.as_deref()), (2, Some("b")));
}

fn put<T: machined_resources::ResourceSpec>(s: &State, id: &str, spec: &T) {
    s.put("test", id, spec).unwrap();
}

#[test]
fn campaigning_needs_a_control_plane_an_up_link_and_running_etcd() {
    let state = State::new();
    let ctx = Ctx::new(state.clone(), "test", vec![]);
    let vip = VipSpec {
        ip: "10.5.0.50".parse().unwrap(),
        link: "eth0".into(),
        options: Default::default(),
    };
    let d = |stopping| -> Desire { desire(&ctx, &vip, stopping).unwrap() };
    assert_eq!(d(false).reason, "not a control plane");

    let mut es = EtcdSpec {
        name: "cp1".into(),
        advertise_ip: "10.5.0.11".parse().ok(),
        client_port: 2379,
        peer_port: 2380,
        ..Default::default()
    };
    put(&state, EtcdSpec::ID, &es);
    assert_eq!(d(false).reason, "link eth0 is not up");

    let link = LinkStatus {
        index: 2,
        link_type: "ether".into(),
        hardware_addr: "52:54:00:00:00:01".parse().unwrap(),
        up: true,
        oper_state: machined_resources::types::OperState::Up,
        ..Default::default()
    };
    put(&state, "eth0", &link);
    assert_eq!(d(false).reason, "etcd is not running");

    let mut st = EtcdStatus {
        phase: EtcdPhase::Running,
        ..Default::default()
    };
    put(&state, EtcdStatus::ID, &st);
    let ok = d(false);
    assert!(ok.eligible, "{ok:?}");
    assert_eq!(ok.endpoints, vec!["http://127.0.0.1:2379"]);
    assert_eq!((ok.node.as_str(), ok.link_index), ("cp1", 2));
    assert_eq!(ok.mac, Some([0x52, 0x54, 0, 0, 0, 1]));
    assert!(ok.tls.is_none());
    assert!(!d(true).eligible, "a VIP being removed does not campaign");

    // With TLS: https on loopback and the client certificate.
    es.tls = true;
    put(&state, EtcdSpec::ID, &es);
    let certs = EtcdCerts {
        ca_pem: "ca".into(),
        server_cert_pem: "s".into(),
        server_key_pem: "sk".into(),
        client_cert_pem: "c".into(),
        client_key_pem: "ck".into(),
        sans: vec![],
    };
    put(&state, "etcd", &certs);
    let tls = d(false);
    assert_eq!(tls.endpoints, vec!["https://127.0.0.1:2379"]);
    assert_eq!(tls.tls.map(|t| t.cert), Some("c".to_string()));

    // Every other voting member's client URLs follow the local one.
    let member = |id: &str, url: &str, learner| machined_resources::types::EtcdMember {
        id: id.into(),
        name: id.into(),
        peer_urls: vec![],
        client_urls: vec![url.into()],
        learner,
    };
    st.member_id = "a".into();
    st.members = vec![
        member("a", "https://10.5.0.11:2379", false),
        member("b", "https://10.5.0.12:2379", false),
        member("c", "https://10.5.0.13:2379", true),
    ];
    put(&state, EtcdStatus::ID, &st);
    let all = d(false);
    assert_eq!(
        all.endpoints,
        vec!["https://127.0.0.1:2379", "https://10.5.0.12:2379"]
    );
    assert_eq!(
        all.local_endpoint.as_deref(),
        Some("https://127.0.0.1:2379")
    );

    st.phase = EtcdPhase::Unhealthy;
    put(&state, EtcdStatus::ID, &st);
    assert!(!d(false).eligible);
}
