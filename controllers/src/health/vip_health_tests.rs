//! The health controller through the controller harness, against a real
//! TCP listener on the loopback: healthy once `rise` checks pass, failing
//! once `fall` fail after the listener closes, and the status gone with
//! the check.

use super::VipHealthController;
use crate::runtime::harness::Harness;
use machined_resources::config::{HealthCheck, Probe, VipOptions};
use machined_resources::types::{HealthState, VipHealthStatus, VipSpec};

const VIP: &str = "10.5.0.50";

fn spec(port: u16, check: bool) -> VipSpec {
    VipSpec {
        ip: VIP.parse().unwrap(),
        link: "eth0".into(),
        options: VipOptions {
            health_check: check.then(|| HealthCheck {
                probe: Probe::Tcp {
                    endpoint: format!("127.0.0.1:{port}"),
                },
                interval_ms: 20,
                timeout_ms: 200,
                fall: 2,
                rise: 2,
                hold_down_ms: 0,
            }),
            ..Default::default()
        },
    }
}

#[tokio::test]
async fn a_check_rises_falls_and_goes_with_its_spec() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepting = tokio::spawn(async move {
        loop {
            let _ = listener.accept().await;
        }
    });
    let h = Harness::new().with(VipHealthController::default()).start();
    h.put(VIP, &spec(port, true));
    let st = h
        .assert_eventually::<VipHealthStatus>(VIP, |s| s.healthy)
        .await;
    assert_eq!(st.state, HealthState::Healthy);
    assert!(st.check.contains(&port.to_string()), "{st:?}");
    // The service goes away: refused, then failing after `fall` checks.
    accepting.abort();
    let _ = accepting.await;
    let st = h
        .assert_eventually::<VipHealthStatus>(VIP, |s| s.state == HealthState::Failing)
        .await;
    assert!(!st.healthy && st.changes >= 2, "{st:?}");
    // No check configured any more: no status.
    h.put(VIP, &spec(port, false));
    h.assert_gone::<VipHealthStatus>(VIP).await;
    h.shutdown().await;
}
