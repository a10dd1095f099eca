//! The etcd service controller through the controller harness, where it
//! decides without running etcd: waiting for its certificates, a member
//! that left (nothing runs, its data goes), and no spec (no status).

use super::EtcdServiceController;
use crate::runtime::harness::Harness;
use machined_resources::types::{EtcdLeft, EtcdPhase, EtcdSpec, EtcdStatus};

/// A state directory of its own, removed at the end.
struct Dir(std::path::PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let p =
            std::env::temp_dir().join(format!("machined-etcd-svc-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn spec(tls: bool) -> EtcdSpec {
    EtcdSpec {
        name: "cp1".into(),
        advertise_ip: "10.5.0.11".parse().ok(),
        client_port: 2379,
        peer_port: 2380,
        tls,
        ..Default::default()
    }
}

#[tokio::test]
async fn waits_for_certificates_stays_out_after_leaving_and_goes_with_its_spec() {
    let dir = Dir::new("wait");
    // A binary that is not there: nothing here may start etcd.
    let h = Harness::new()
        .with(EtcdServiceController::new(
            dir.0.clone(),
            dir.0.join("no-etcd-here"),
        ))
        .start();
    h.put(EtcdSpec::ID, &spec(true));
    let st = h
        .assert_eventually::<EtcdStatus>(EtcdStatus::ID, |s| !s.last_error.is_empty())
        .await;
    assert_eq!(st.phase, EtcdPhase::Stopped, "{st:?}");
    assert!(st.last_error.contains("certificates"), "{st:?}");

    let data = dir.0.join("etcd").join("data");
    std::fs::create_dir_all(&data).unwrap();
    h.put(EtcdSpec::ID, &spec(false)).put(
        EtcdLeft::ID,
        &EtcdLeft {
            since: machined_resources::resource::Timestamp::now(),
        },
    );
    let st = h
        .assert_eventually::<EtcdStatus>(EtcdStatus::ID, |s| {
            s.last_error.contains("left the cluster")
        })
        .await;
    assert_eq!(st.phase, EtcdPhase::Stopped, "{st:?}");
    assert!(st.member_id.is_empty(), "{st:?}");
    assert!(
        !data.exists(),
        "the data of the member that left is still there"
    );

    h.destroy::<EtcdSpec>(EtcdSpec::ID);
    h.assert_gone::<EtcdStatus>(EtcdStatus::ID).await;
    h.shutdown().await;
}
