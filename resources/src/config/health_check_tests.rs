use super::health_check::*;
use super::parse;

fn vip_with(check: &str) -> String {
    format!("version: v1alpha1\nmachine:\n  type: controlplane\n  network:\n    interfaces:\n      - interface: eth0\n        vip:\n          ip: 10.5.0.50\n          machined:\n            healthCheck:\n{check}")
}

fn check_of(check: &str) -> HealthCheck {
    let p = parse(&vip_with(check)).unwrap_or_else(|e| panic!("{check}: {e}"));
    let vip = p.config.interfaces[0].vip.clone().expect("a VIP");
    vip.options.health_check.expect("a check")
}

#[test]
fn reads_the_documented_shape() {
    let c = check_of("              http: {url: \"https://127.0.0.1:6443/readyz\", insecureSkipVerify: true}\n              interval: 1s\n              timeout: 500ms\n              fall: 3\n              rise: 2\n              holdDown: 30s\n");
    assert_eq!(
        c,
        HealthCheck {
            probe: Probe::Http {
                url: "https://127.0.0.1:6443/readyz".into(),
                insecure_skip_verify: true,
                ca: None,
                expected_status: None,
            },
            interval_ms: 1000,
            timeout_ms: 500,
            fall: 3,
            rise: 2,
            hold_down_ms: 30_000,
        }
    );
    let c = check_of(
        "              tcp: {endpoint: \"[fd00::1]:6443\"}\n              interval: 200ms\n",
    );
    assert_eq!(
        c.probe,
        Probe::Tcp {
            endpoint: "[fd00::1]:6443".into()
        }
    );
    // The default timeout is never longer than the interval.
    assert_eq!((c.interval_ms, c.timeout_ms), (200, 200));
    assert_eq!(
        (c.fall, c.rise, c.hold_down_ms),
        (DEFAULT_FALL, DEFAULT_RISE, DEFAULT_HOLD_DOWN_MS)
    );
    let plain = parse(
        &vip_with("              {}\n").replace("healthCheck:\n              {}", "leaseTTL: 3s"),
    )
    .unwrap();
    assert!(plain.config.interfaces[0]
        .vip
        .as_ref()
        .unwrap()
        .options
        .health_check
        .is_none());
}

#[test]
fn refuses_bad_checks_naming_the_field() {
    let at = "machine.network.interfaces[0].vip.machined.healthCheck";
    for (check, want) in [
        ("              interval: 1s\n", "healthCheck: needs tcp"),
        ("              tcp: {endpoint: \"a:1\"}\n              http: {url: \"http://a/\"}\n", "healthCheck: set one of"),
        ("              tcp: {}\n", "tcp.endpoint: is required"),
        ("              tcp: {endpoint: \"10.0.0.1\"}\n", "tcp.endpoint: \"10.0.0.1\" is not HOST:PORT"),
        ("              tcp: {endpoint: \"10.0.0.1:0\"}\n", "tcp.endpoint: \"10.0.0.1:0\" has an invalid port"),
        ("              tcp: {endpoint: \"bad host:80\"}\n", "tcp.endpoint: \"bad host:80\" has an invalid host"),
        ("              http: {url: \"ftp://a/\"}\n", "http.url: \"ftp://a/\" does not start"),
        ("              http: {url: \"http://u:p@a/\"}\n", "http.url: \"http://u:p@a/\": credentials"),
        ("              http: {url: \"http://a b/\"}\n", "http.url: \"http://a b/\" holds spaces"),
        ("              http: {url: \"http://a:99999/\"}\n", "http.url: URL \"http://a:99999/\" has an invalid port"),
        ("              http: {url: \"https://a/\", ca: \"hello\"}\n", "http.ca: must hold PEM"),
        ("              http: {url: \"http://a/\", expectedStatus: 42}\n", "http.expectedStatus: 42 is not"),
        ("              http: {url: \"http://a/\", expectedStatus: 1000}\n", "http.expectedStatus: 1000 is out of range"),
        ("              tcp: {endpoint: \"a:1\"}\n              interval: 10ms\n", "interval: 10ms is out of range"),
        ("              tcp: {endpoint: \"a:1\"}\n              interval: 1s\n              timeout: 2s\n", "timeout: must not be longer"),
        ("              tcp: {endpoint: \"a:1\"}\n              fall: 0\n", "fall: 0 is out of range"),
        ("              tcp: {endpoint: \"a:1\"}\n              rise: 101\n", "rise: 101 is out of range"),
        ("              tcp: {endpoint: \"a:1\"}\n              holdDown: later\n", "holdDown: must be a duration"),
    ] {
        let errs = match parse(&vip_with(check)) {
            Ok(_) => panic!("{check}: accepted"),
            Err(e) => e.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        };
        let want = format!("{at}.{want}").replace("healthCheck.healthCheck:", "healthCheck:");
        assert!(errs.iter().any(|e| e.contains(&want)), "{check}: want {want}, got {errs:?}");
    }
    let long = format!(
        "              http: {{url: \"http://a/{}\"}}\n",
        "x".repeat(3000)
    );
    assert!(parse(&vip_with(&long)).is_err());
}

#[test]
fn urls_and_endpoints() {
    assert_eq!(check_url("https://api.example:6443/readyz?x=1"), Ok(true));
    assert_eq!(check_url("http://[fd00::1]/"), Ok(false));
    assert_eq!(check_url("http://10.0.0.1"), Ok(false));
    assert!(check_url("http:///x").is_err());
    assert!(check_endpoint("[fd00::1]:80").is_ok());
    assert!(check_endpoint("fd00::1:80").is_err());
    assert!(check_endpoint("api.example:6443").is_ok());
    assert!(check_endpoint("a..b:80").is_err());
    assert!(check_endpoint("tcp://a:80").is_err());
    assert!(check_url("https://a..b/").is_err());
}
