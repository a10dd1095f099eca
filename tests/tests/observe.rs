//! Seeing what the VIP does, on real nodes: a failover (the service behind
//! the VIP killed on the holder, every machined alive) shows up as events on
//! every node, as counters in `/metrics` scraped over HTTP from the LAN, and
//! in `mctl dashboard` under tmux; `mctl logs etcd` returns etcd's own lines;
//! a flood of refused applies leaves the event history and machined's memory
//! within their bounds. Logs and events pushed to receivers on the LAN
//! (`machine.logging`, `EventSinkConfig`) carry the failover from every
//! node; with the event sink down through the flood, the node goes on and
//! counts what it lost, and sends again once the sink is back.

use machined_client::client::{self, Creds};
use machined_proto as pb;
use machined_tests::cluster::{serial, Cluster};
use machined_tests::faults::VIP;
use machined_tests::monitor::Monitor;
use machined_tests::receiver::Receiver;
use machined_tests::scrape::{self, value, Samples};
use machined_tests::service::check_patch;
use machined_tests::{require_root, wait_for, PATIENCE};
use serde_json::Value;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Instant;

fn metrics(c: &Cluster, ip: &str) -> Samples {
    let (status, ctype, body) =
        scrape::get(&c.lan(), &format!("{ip}:2112"), "/metrics").expect("scrape");
    assert_eq!(status, 200, "{body}");
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    scrape::parse(&body).unwrap_or_else(|e| panic!("{ip}: {e}\n{body}"))
}

fn holder_gauge(s: &Samples) -> f64 {
    value(s, "machined_vip_holder", Some(("vip", VIP))).unwrap_or(-1.0)
}

fn counter(s: &Samples, name: &str, label: (&str, &str)) -> f64 {
    value(s, name, Some(label)).unwrap_or(0.0)
}

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().expect("tmux");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The cluster's admin credentials, from the mctlconfig it wrote.
fn creds(c: &Cluster) -> Creds {
    let text = std::fs::read_to_string(c.dir.0.join("mctlconfig")).expect("mctlconfig");
    let v: yaml_serde::Value = yaml_serde::from_str(&text).expect("yaml");
    let ctx = &v["contexts"][v["context"].as_str().unwrap_or_default()];
    let pem = |k: &str| machined_pki::unb64(ctx[k].as_str().unwrap_or_default()).expect("base64");
    Creds::Mtls {
        ca_pem: pem("ca"),
        cert_pem: pem("crt"),
        key_pem: pem("key"),
    }
}

/// `n` refused applies over one connection, from the LAN.
fn flood_refused(c: &Cluster, ip: &str, n: usize) {
    let (lan, ip, creds) = (c.lan(), ip.to_string(), creds(c));
    std::thread::spawn(move || {
        machined_tests::ns::enter(&lan).expect("netns");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let ch = client::connect(&ip, &creds).await.expect("connect");
            let mut m = client::machine(client::direct(ch));
            for i in 0..n {
                // Not UTF-8: refused before any parsing, so the flood is
                // cheap to make; each refusal is an event all the same.
                let mut bad = vec![0xff_u8; 16];
                bad.extend_from_slice(format!("{i}").as_bytes());
                let r = m
                    .apply_configuration(pb::ApplyConfigurationRequest {
                        data: bad,
                        ..Default::default()
                    })
                    .await;
                assert!(r.is_err(), "an invalid config was applied");
            }
        });
    })
    .join()
    .expect("flood thread");
}

fn rss_kib(c: &Cluster, i: usize) -> u64 {
    let ns = &c.cps()[i].1;
    let pid = machined_tests::cluster::pids_named(ns, "machined")[0];
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

#[test]
fn a_failover_shows_in_events_metrics_logs_and_the_dashboard() {
    if !require_root("observing the VIP") {
        return;
    }
    let _serial = serial();
    let c = Cluster::create("ob", &["--controlplanes", "3", "--stand-in"]);
    let cps = c.cps();
    let ips: Vec<String> = cps.iter().map(|x| x.2.clone()).collect();
    let all = ips.join(",");
    let h0 = c.wait_healthy();

    // Metrics from every node: one holder, etcd with a leader, build info.
    let before: Vec<Samples> = ips.iter().map(|ip| metrics(&c, ip)).collect();
    let holders: Vec<f64> = before.iter().map(holder_gauge).collect();
    let mut want = vec![0.0; cps.len()];
    want[h0] = 1.0;
    assert_eq!(holders, want, "machined_vip_holder per node");
    for s in &before {
        assert_eq!(value(s, "machined_etcd_has_leader", None), Some(1.0));
        assert!(value(s, "machined_build_info", None).is_some());
    }
    let (st, _, body) = scrape::get(&c.lan(), &format!("{}:2112", ips[0]), "/healthz").unwrap();
    assert_eq!((st, body.as_str()), (200, "ok\n"));

    // The dashboard, in tmux, from the LAN namespace.
    let session = format!("{}-dash", c.name);
    let cmd = format!(
        "env MCTLCONFIG={} {} --netns {} -n {all} dashboard",
        c.dir.0.join("mctlconfig").display(),
        machined_tests::bins::mctl().display(),
        c.lan()
    );
    let _ = tmux(&["kill-session", "-t", &session]);
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "160",
        "-y",
        "45",
        &cmd,
    ]);
    struct Kill(String);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = Command::new("tmux")
                .args(["kill-session", "-t", &self.0])
                .output();
        }
    }
    let _dash = Kill(session.clone());
    let screen = || tmux(&["capture-pane", "-p", "-t", &session]);
    let held_by = |short: &str| format!("held by {}-{short}", c.name);
    wait_for("the dashboard to show the holder", PATIENCE, || {
        screen().contains(&held_by(&cps[h0].0)).then_some(())
    });

    // Events followed through the failover by a running `mctl events`.
    let follower = c
        .mctl_command(&["-n", &all, "events", "-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mctl events");

    // Logs and events pushed to receivers on the LAN, as Talos sends them
    // to a log server (machine.logging) and an event sink.
    let logs_at: SocketAddr = "10.5.0.1:5044".parse().unwrap();
    let events_at: SocketAddr = "10.5.0.1:4000".parse().unwrap();
    let logs_rx = Receiver::start(&c.lan(), logs_at).expect("log receiver");
    let mut events_rx = Some(Receiver::start(&c.lan(), events_at).expect("event receiver"));
    c.patch_all(&format!(
        "machine:\n  logging:\n    destinations:\n      - endpoint: tcp://{logs_at}\n        format: json_lines\n        extraTags: {{cluster: {}}}\n---\napiVersion: v1alpha1\nkind: EventSinkConfig\nendpoint: tcp://{events_at}\n",
        c.name
    ));

    // The failover: a check patched in, the service killed on the holder.
    c.patch_all(&check_patch("200ms", 2, 2, "0s"));
    c.wait_health_everywhere("healthy");
    let namespaces: Vec<String> = cps.iter().map(|x| x.1.clone()).collect();
    let mon = Monitor::start(&namespaces, "eth0", VIP.parse().unwrap());
    c.stop_service(h0);
    let h1 = wait_for("the VIP on another node (netlink)", PATIENCE, || {
        let h = mon.holders(cps.len());
        (h.iter().filter(|x| **x).count() == 1 && !h[h0]).then(|| h.iter().position(|x| *x))?
    });
    let moved = Instant::now();
    wait_for("the dashboard to show the new holder", PATIENCE, || {
        screen().contains(&held_by(&cps[h1].0)).then_some(())
    });
    eprintln!(
        "dashboard showed the new holder {} ms after the address moved (netlink; 50 ms capture polls)",
        moved.elapsed().as_millis()
    );
    drop(mon);
    // Switching nodes with a key: the etcd panel follows.
    tmux(&["send-keys", "-t", &session, "Right"]);
    wait_for("the dashboard on the second node", PATIENCE, || {
        screen()
            .contains(&format!("etcd, as {} sees it", ips[1]))
            .then_some(())
    });

    // Every node recorded the move; the old holder why it let go, the new
    // one that it took the address.
    let new_name = format!("{}-{}", c.name, cps[h1].0);
    for (i, ip) in ips.iter().enumerate() {
        let evs = wait_for(&format!("{ip}'s events of the move"), PATIENCE, || {
            let evs = c.events(ip);
            evs.iter()
                .any(|e| {
                    e["kind"] == "vip-holder-changed" && e["fields"]["holder"] == new_name.as_str()
                })
                .then_some(evs)
        });
        let kinds: Vec<&str> = evs.iter().filter_map(|e| e["kind"].as_str()).collect();
        if i == h0 {
            assert!(
                evs.iter()
                    .any(|e| e["kind"] == "vip-released" && e["fields"]["reason"] == "unhealthy"),
                "{kinds:?}"
            );
            assert!(kinds.contains(&"health-check-changed"), "{kinds:?}");
        }
        if i == h1 {
            assert!(kinds.contains(&"vip-acquired"), "{kinds:?}");
        }
    }
    // ...and the follower printed it as it happened, from every node.
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(follower.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let out = follower.wait_with_output().expect("follower output");
    let followed: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    for ip in &ips {
        assert!(
            followed.iter().any(|e| e["node"] == ip.as_str()
                && e["kind"] == "vip-holder-changed"
                && e["fields"]["holder"] == new_name.as_str()),
            "mctl events did not stream {ip}'s holder change: {followed:?}"
        );
    }

    // The receivers got the move from every node: the events, machined's
    // log lines (tagged) and etcd's. etcd writes on every member when its
    // leader changes: one is asked for, so each member has lines to send.
    let leader = c.etcd_leader(&ips[0]);
    let li = cps
        .iter()
        .position(|x| leader.ends_with(&format!("-{}", x.0)))
        .expect("an etcd leader");
    let r = c.mctl(&["-n", &ips[li], "etcd", "forfeit-leadership"]);
    assert!(r.ok, "forfeit-leadership: {}", r.stderr);
    let from = |ip: &str| -> std::net::IpAddr { ip.parse().unwrap() };
    let rx = events_rx.as_ref().expect("event receiver");
    for ip in &ips {
        wait_for(
            &format!("{ip}'s holder change at the event sink"),
            PATIENCE,
            || {
                rx.lines()
                    .iter()
                    .any(|(at, e)| {
                        *at == from(ip)
                            && e["kind"] == "vip-holder-changed"
                            && e["fields"]["holder"] == new_name.as_str()
                    })
                    .then_some(())
            },
        );
        wait_for(
            &format!("{ip}'s machined and etcd lines at the log server"),
            PATIENCE,
            || {
                let got = logs_rx.lines();
                let has = |svc: &str| {
                    got.iter().any(|(at, l)| {
                        *at == from(ip)
                            && l["talos-service"] == svc
                            && l["cluster"] == c.name.as_str()
                    })
                };
                (has("machined") && has("etcd")).then_some(())
            },
        );
    }
    assert!(
        logs_rx.lines().iter().any(|(at, l)| *at == from(&ips[h0])
            && l["msg"]
                .as_str()
                .is_some_and(|m| m.contains("giving up the VIP"))),
        "the old holder's log of letting go did not reach the log server"
    );

    // The counters moved.
    let after: Vec<Samples> = ips.iter().map(|ip| metrics(&c, ip)).collect();
    let mut want = vec![0.0; cps.len()];
    want[h1] = 1.0;
    assert_eq!(after.iter().map(holder_gauge).collect::<Vec<_>>(), want);
    for (b, a) in before.iter().zip(&after) {
        let name = "machined_vip_holder_changes_total";
        assert!(counter(a, name, ("vip", VIP)) > counter(b, name, ("vip", VIP)));
    }
    assert_eq!(
        value(
            &after[h0],
            "machined_vip_released_total",
            Some(("reason", "unhealthy"))
        ),
        Some(1.0)
    );
    assert!(
        counter(&after[h1], "machined_vip_acquired_total", ("vip", VIP))
            > counter(&before[h1], "machined_vip_acquired_total", ("vip", VIP))
    );
    assert_eq!(
        value(
            &after[h0],
            "machined_vip_health_check_healthy",
            Some(("vip", VIP))
        ),
        Some(0.0)
    );

    // etcd's own log lines, the last 20.
    let r = c.mctl(&["-n", &ips[0], "logs", "etcd", "--tail", "20"]);
    assert!(r.ok, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 20, "{}", r.stdout);
    // What etcd itself wrote: its output also goes to STATE/etcd/etcd.log.
    let on_disk = std::fs::read_to_string(c.node_dir(&cps[0].0).join("state/etcd/etcd.log"))
        .expect("etcd.log");
    let written: std::collections::HashSet<&str> = on_disk.lines().collect();
    for l in &lines {
        assert!(written.contains(l), "not a line etcd wrote: {l:?}");
    }
    let r = c.mctl(&["-n", &ips[0], "logs", "machined", "--tail", "5"]);
    assert!(
        r.ok && r.stdout.lines().count() == 5,
        "{}{}",
        r.stdout,
        r.stderr
    );
    let r = c.mctl(&["-n", &ips[0], "logs", "nosuch"]);
    assert!(!r.ok && r.stderr.contains("machined, etcd"), "{}", r.stderr);
    let r = c.mctl(&["-n", &ips[0], "dmesg", "--tail", "3"]);
    assert!(r.ok, "{}", r.stderr);
    assert!(
        r.stdout.lines().count() == 3 && r.stdout.lines().all(|l| l.starts_with('[')),
        "{}",
        r.stdout
    );

    // A flood of refused applies: the history keeps its bound, the node its
    // memory, and nothing changes. The event sink is down meanwhile: the
    // node does not wait for it, and counts what it could not send.
    drop(events_rx.take());
    let flood = 3000;
    let rss0 = rss_kib(&c, 0);
    flood_refused(&c, &ips[0], flood);
    let rss1 = rss_kib(&c, 0);
    let evs = c.events(&ips[0]);
    let newest = evs.last().and_then(|e| e["id"].as_u64()).unwrap_or(0);
    assert!(evs.len() <= 1024, "{} events kept", evs.len());
    assert!(newest >= flood as u64, "newest id {newest}");
    assert_eq!(evs.last().unwrap()["kind"], "config-refused");
    let m = metrics(&c, &ips[0]);
    assert!(counter(&m, "machined_events_total", ("kind", "config-refused")) >= flood as f64);
    eprintln!(
        "flood of {flood} refused applies: {} events kept, machined RSS {rss0} -> {rss1} KiB",
        evs.len()
    );
    assert!(
        rss1 < rss0 + 8 * 1024,
        "machined grew from {rss0} to {rss1} KiB over {flood} events"
    );
    assert_eq!(c.wait_healthy(), h1, "the flood moved the VIP");
    let sink = format!("tcp://{events_at}");
    let dropped = wait_for("the lost events counted", PATIENCE, || {
        let n = counter(
            &metrics(&c, &ips[0]),
            "machined_sink_lines_dropped_total",
            ("destination", &sink),
        );
        (n > 0.0).then_some(n)
    });
    // Said too (the event itself may have left the flooded history).
    let r = c.mctl(&["-n", &ips[0], "logs", "machined"]);
    assert!(
        r.stdout.contains("a destination lost lines")
            || c.events(&ips[0])
                .iter()
                .any(|e| e["kind"] == "sink-dropping"),
        "the loss was not said"
    );
    // Back: what happens next arrives again.
    let rx = Receiver::start(&c.lan(), events_at).expect("event receiver again");
    flood_refused(&c, &ips[0], 1);
    wait_for("events at the sink again", PATIENCE, || {
        rx.lines()
            .iter()
            .any(|(at, e)| *at == from(&ips[0]) && e["kind"] == "config-refused")
            .then_some(())
    });
    eprintln!(
        "event sink: {dropped} events lost while it was down, counted; sending again once back"
    );
}
