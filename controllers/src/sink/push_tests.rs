//! The pusher against a receiver on loopback.
use super::*;
use tokio::io::AsyncBufReadExt;

/// Lines the receiver got, until one contains `last` or 60 s pass.
async fn receive(l: &tokio::net::TcpListener, last: &str) -> Vec<String> {
    let (s, _) = tokio::time::timeout(Duration::from_secs(10), l.accept())
        .await
        .expect("the pusher connects")
        .expect("accept");
    let mut lines = tokio::io::BufReader::new(s).lines();
    let mut got: Vec<String> = Vec::new();
    // Generous: the whole ring (16384 lines) may come first, in a
    // debug build on a busy machine.
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Ok(Some(l))) =
            tokio::time::timeout(Duration::from_millis(200), lines.next_line()).await
        {
            let done = l.contains(last);
            got.push(l);
            if done {
                break;
            }
        }
    }
    got
}

/// A receiver that goes away loses what leaves the ring meanwhile
/// (counted), and gets what is new once it is back; machined's side
/// never waits on it.
#[tokio::test]
async fn lines_go_out_and_a_gone_receiver_costs_only_what_left_the_ring() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let d = Destination {
        stream: Stream::Logs,
        endpoint: SinkEndpoint {
            transport: Transport::Tcp,
            host: "127.0.0.1".into(),
            port,
        },
        tags: BTreeMap::from([("node".to_string(), "t1".to_string())]),
    };
    let name = d.endpoint.to_string();
    let task = tokio::spawn(run(d));
    let ring = logs::ring("etcd").unwrap();
    // The pusher starts from now: give it a moment to take its cursor.
    tokio::time::sleep(Duration::from_millis(100)).await;
    ring.push("first line");
    let got = receive(&l, "first line").await;
    let v: Value = serde_json::from_str(got.last().unwrap()).unwrap();
    assert_eq!(
        (v["msg"].as_str(), v["node"].as_str()),
        (Some("first line"), Some("t1"))
    );
    drop(l);

    // Gone: far more than the ring holds is written, at once.
    let t = std::time::Instant::now();
    for i in 0..(logs::MAX_LINES + 100) {
        ring.push(&format!("while away {i}"));
    }
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "writing waited on the receiver"
    );
    let l = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    ring.push("back again");
    let got = receive(&l, "back again").await;
    assert!(
        got.iter().any(|x| x.contains("back again")),
        "{} lines",
        got.len()
    );
    let m = metrics::get().render();
    let dropped = m
        .lines()
        .find(|x| x.starts_with("machined_sink_lines_dropped_total") && x.contains(&name))
        .and_then(|x| x.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(dropped >= 100, "dropped {dropped}: {m}");
    task.abort();
}

#[test]
fn a_log_line_is_talos_json_lines_with_the_tags() {
    let mut tags = BTreeMap::new();
    tags.insert("cluster".to_string(), "demo".to_string());
    let l = log_line("etcd", std::time::UNIX_EPOCH, "ready \"now\"", &tags);
    let v: Value = serde_json::from_str(&l).unwrap();
    assert_eq!(v["msg"], "ready \"now\"");
    assert_eq!(v["talos-service"], "etcd");
    assert_eq!(v["talos-time"], "1970-01-01T00:00:00.000Z");
    assert_eq!(v["cluster"], "demo");
    assert!(!l.contains('\n'));
}
