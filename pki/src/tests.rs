use super::*;

fn b64_field(yaml: &str, after: &str, field: &str) -> String {
    let i = yaml.find(after).expect("section");
    let rest = &yaml[i..];
    let line = rest
        .lines()
        .find(|l| l.trim_start().starts_with(field))
        .expect("field");
    unb64(line.trim_start().trim_start_matches(field).trim()).expect("base64")
}

#[test]
fn ca_issues_server_and_client_certs_with_roles() {
    let ca = CertKey::new_ca("machined", 3650).unwrap();
    ca.validate().unwrap();
    let client = ca
        .issue(&Leaf {
            common_name: "admin".into(),
            orgs: vec![ROLE_ADMIN.into(), ROLE_READER.into()],
            client: true,
            days: 365,
            ..Default::default()
        })
        .unwrap();
    let der = pem_to_der(&client.cert_pem).unwrap();
    assert_eq!(
        roles(&der).unwrap(),
        vec![ROLE_ADMIN.to_string(), ROLE_READER.to_string()]
    );
    let server = ca
        .issue(&Leaf {
            common_name: "cp-1".into(),
            sans: vec!["10.5.0.11".into(), "cp-1".into()],
            server: true,
            days: 365,
            ..Default::default()
        })
        .unwrap();
    let expiry = not_after(&server.cert_pem).unwrap();
    assert!(expiry > SystemTime::now() + Duration::from_secs(360 * 86_400));
    assert!(roles(&pem_to_der(&server.cert_pem).unwrap())
        .unwrap()
        .is_empty());
}

#[test]
fn a_key_of_another_ca_is_refused() {
    let a = CertKey::new_ca("a", 30).unwrap();
    let b = CertKey::new_ca("b", 30).unwrap();
    let mixed = CertKey {
        cert_pem: a.cert_pem.clone(),
        key_pem: b.key_pem.clone(),
    };
    let e = mixed.validate().unwrap_err().to_string();
    assert!(e.contains("does not belong to the certificate"), "{e}");
}

#[test]
fn talos_keys_load() {
    // The shared Talos fixtures: an Ed25519 machine CA and a SEC1 P-256 etcd CA.
    let dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/talos-configs");
    let Ok(text) = std::fs::read_to_string(dir.join("v1.10-base-controlplane.yaml")) else {
        assert!(std::env::var("CI").is_err(), "talos configs missing");
        eprintln!("SKIP: talos configs not found");
        return;
    };
    let machine = CertKey {
        cert_pem: b64_field(&text, "machine:", "crt:"),
        key_pem: b64_field(&text, "machine:", "key:"),
    };
    assert!(machine.key_pem.contains("ED25519 PRIVATE KEY"));
    machine.validate().unwrap();
    machine
        .issue(&Leaf {
            common_name: "x".into(),
            server: true,
            days: 1,
            ..Default::default()
        })
        .unwrap();
    let etcd = CertKey {
        cert_pem: b64_field(&text, "etcd:", "crt:"),
        key_pem: b64_field(&text, "etcd:", "key:"),
    };
    assert!(etcd.key_pem.contains("EC PRIVATE KEY"));
    etcd.validate().unwrap();
    etcd.issue(&Leaf {
        common_name: "x".into(),
        client: true,
        days: 1,
        ..Default::default()
    })
    .unwrap();
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    assert!(key_from_pem("nope").is_err());
    assert!(
        key_from_pem("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n")
            .is_err()
    );
    assert!(not_after("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err());
    assert!(unb64("***").is_err());
    assert_eq!(unb64(&b64("hello")).unwrap(), "hello");
}
