//! Five control planes on real nodes: etcd bootstraps and joins five
//! members, every node sees them; `mctl health` passes; the quorum guard
//! counts to five (with two nodes down, a reboot of a third is refused,
//! as it would leave two of five); the holder's machine dies and another
//! of the four answers for the VIP, never two at once. The lab has four
//! VIPs in two VIP groups (`--vip` four times, `--vip-groups 2`): the
//! first VIP's group (it and .51) moves as one to one node, no group is
//! ever answered for by two nodes, no request for any VIP ever has two
//! answers, and every node names one holder for both members. Last, one
//! node's config takes .53 out of its group (configs that differ between
//! nodes: .53 is then in two elections): the other nodes say their lists
//! differ, and still only one node ever answers for .53 or has it in its
//! kernel (its one owner key).

use machined_tests::cluster::{serial, Cluster};
use machined_tests::require_root;
use machined_tests::trial::{self, Scenario};
use std::time::Duration;

#[test]
fn five_control_planes_elect_guard_quorum_and_fail_over() {
    if !require_root("five control planes") {
        return;
    }
    let _serial = serial();
    let ip = |s: &str| -> std::net::Ipv4Addr { s.parse().expect("literal") };
    let first = ip(machined_tests::faults::VIP);
    let others = [ip("10.5.0.51"), ip("10.5.0.52"), ip("10.5.0.53")];
    let groups = [[first, others[0]], [others[1], others[2]]];
    let mut c = Cluster::create(
        "five",
        &[
            "--controlplanes",
            "5",
            "--vip",
            machined_tests::faults::VIP,
            "--vip",
            "10.5.0.51",
            "--vip",
            "10.5.0.52",
            "--vip",
            "10.5.0.53",
            "--vip-groups",
            "2",
        ],
    );
    let cps = c.cps();
    assert_eq!(cps.len(), 5);
    let ips: Vec<String> = cps.iter().map(|x| x.2.clone()).collect();
    let h = c.wait_healthy();

    // Every node sees five voting members.
    for ip in &ips {
        let st = c.get_json(ip, "etcdstatus").expect("EtcdStatus");
        let members = st["spec"]["members"].as_array().map_or(0, Vec::len);
        assert_eq!(members, 5, "{ip}: {st}");
    }
    let r = c.mctl(&["-n", &ips[0], "health", "--wait-timeout", "60s"]);
    assert!(r.ok, "health: {}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("etcd to be healthy on every control plane: OK"),
        "{}",
        r.stdout
    );

    // Two nodes down (not the holder): three of five keep quorum, and a
    // third may not go.
    let down: Vec<usize> = (0..5).filter(|i| *i != h).take(2).collect();
    let third = (0..5)
        .find(|i| *i != h && !down.contains(i))
        .expect("a third");
    for &i in &down {
        c.stop_node(i);
    }
    // (stop_node returns once their machined and etcd have exited.)
    let r = c.mctl(&["-n", &ips[third], "reboot", "--wait=false"]);
    assert!(
        !r.ok && r.stderr.contains("lose quorum"),
        "reboot of a third of five: {}{}",
        r.stdout,
        r.stderr
    );
    assert!(
        c.ping(machined_tests::faults::VIP),
        "the VIP with three of five"
    );
    for &i in &down {
        c.start_node(i);
    }
    c.wait_healthy();

    // The holder's machine dies: one of the four others answers, alone.
    let every = Duration::from_millis(10);
    let r = trial::run_with(&mut c, Scenario::Dead, every, every, &others);
    let label = format!("dead holder at five (old {})", cps[r.old_holder].0);
    r.assert_one_voice(&label, || c.logs());
    let new = r
        .new_holder
        .unwrap_or_else(|| panic!("{label}: nobody holds the VIP\n{}", c.logs()));
    assert_ne!(new, r.old_holder, "{label}: the VIP did not move");
    // The first VIP's group was on the dead node, all of it, and all of it
    // came back; no group was ever answered for by two nodes.
    let o = &r.others[0];
    assert!(o.on_faulted, "{label}: {} was not with {first}", o.ip);
    assert!(
        o.back_after.is_some(),
        "{label}: {} did not come back",
        o.ip
    );
    for g in &groups {
        let split = r.split(g);
        assert_eq!(
            split,
            Duration::ZERO,
            "{label}: group {g:?} split for {split:?}\n{}",
            c.logs()
        );
    }
    // Every node names one holder for both members of the first group (it
    // may have moved again while the dead node came back), and that node
    // has both addresses.
    let named = || -> Vec<String> {
        let mut seen = Vec::new();
        for node in &ips {
            for vip in &groups[0] {
                let st = c.get_one(node, "vipstatus", &vip.to_string());
                let f = |k: &str| {
                    st.as_ref()
                        .and_then(|s| s["spec"][k].as_str().map(str::to_string))
                        .unwrap_or_default()
                };
                seen.push(format!("{} {}", f("holder"), f("group")));
            }
        }
        seen
    };
    let in_kernel = |ns: &str| -> String {
        let out = std::process::Command::new("ip")
            .args(["-n", ns, "addr", "show", "dev", "lo"])
            .output()
            .expect("ip addr");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let seen = named();
        let one = seen
            .first()
            .filter(|h| h.ends_with(" vips-1") && h.len() > " vips-1".len())
            .filter(|h| seen.iter().all(|x| x == *h));
        let holder = one.and_then(|h| cps.iter().find(|cp| h.contains(&format!("-{} ", cp.0))));
        if let Some(cp) = holder {
            let addrs = in_kernel(&cp.1);
            if groups[0].iter().all(|v| addrs.contains(&format!(" {v}/"))) {
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{label}: every node should name one holder of group vips-1, which has both addresses: {seen:#?}\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    configs_that_differ(&c, others[2]);
    eprintln!("five control planes: dead holder, client gap {:?}", r.gap);
}

/// One node runs a config where `vip` is alone, the others have it in
/// group `vips-2`: two elections for one address.
fn configs_that_differ(c: &Cluster, vip: std::net::Ipv4Addr) {
    use machined_tests::arpwatch::ArpWatch;
    use machined_tests::monitor::{longest_double, Monitor};
    let cps = c.cps();
    let (odd, other) = (&cps[4], &cps[0]);
    let path = c.node_dir(&odd.0).join("config.yaml");
    let text = std::fs::read_to_string(&path).expect("node config");
    let doc = format!("name: {vip}\nlink: eth0\n");
    let alone = text.replace(&format!("{doc}group: vips-2\n"), &doc);
    assert_ne!(alone, text, "{vip}'s group in the config");
    let file = c.node_dir(&odd.0).join("config-alone.yaml");
    std::fs::write(&file, alone).expect("write config");
    let every = Duration::from_millis(10);
    let arp = ArpWatch::start(&c.asker(), vip, c.macs(), every).expect("ARP watch");
    let namespaces: Vec<String> = cps.iter().map(|x| x.1.clone()).collect();
    let kernels = Monitor::start(&namespaces, "eth0", std::net::IpAddr::V4(vip));
    let f = file.to_string_lossy().to_string();
    let r = c.mctl(&["-n", &odd.2, "apply-config", "--file", &f]);
    assert!(r.ok, "apply-config: {}{}", r.stdout, r.stderr);
    let spec = |node: &str, id: &str, key: &str| -> String {
        c.get_one(node, "vipstatus", id)
            .and_then(|st| st["spec"][key].as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let id = vip.to_string();
    machined_tests::wait_for(
        "the other nodes to say the lists differ, and the odd node to hold or wait",
        Duration::from_secs(30),
        || {
            let noted = spec(&other.2, &id, "reason").contains("do not list the same members");
            let odd_reason = spec(&odd.2, &id, "reason");
            let odd_holds = c
                .get_one(&odd.2, "vipstatus", &id)
                .is_some_and(|st| st["spec"]["holding"] == true);
            let settled = odd_holds || odd_reason.contains("through another election");
            (noted && settled && spec(&odd.2, &id, "group").is_empty()).then_some(())
        },
    );
    // A few hundred requests while both elections stand.
    let t = std::time::Instant::now();
    machined_tests::wait_for("requests for two seconds", Duration::from_secs(10), || {
        (t.elapsed() > Duration::from_secs(2)).then_some(())
    });
    let (rec, _) = arp.stop();
    let doubles = rec
        .rounds
        .iter()
        .filter(|r| machined_tests::verdict::answered_by_two(r))
        .count();
    let answered = rec.rounds.iter().filter(|r| !r.answers.is_empty()).count();
    let overlap = longest_double(&kernels.stop(), cps.len());
    assert!(answered > 0, "nobody answered for {vip}");
    assert_eq!(
        doubles,
        0,
        "{vip}: requests answered by two MACs\n{}",
        c.logs()
    );
    assert_eq!(
        overlap,
        Duration::ZERO,
        "{vip}: in two kernels at once\n{}",
        c.logs()
    );
}
