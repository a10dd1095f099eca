//! The checks against servers on loopback: TCP open and refused, HTTP
//! statuses, a server that never answers, HTTPS verified against a given
//! CA and refused without it.

use super::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A server answering every request on one connection with `status`;
/// `None`: accepts and never answers.
async fn http_server(status: Option<u16>) -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                match status {
                    Some(code) => {
                        let r = format!("HTTP/1.1 {code} X\r\ncontent-length: 0\r\n\r\n");
                        let _ = s.write_all(r.as_bytes()).await;
                    }
                    None => std::future::pending::<()>().await,
                }
            });
        }
    });
    addr
}

fn http(url: String, expected: Option<u16>) -> Target {
    Target::new(&Probe::Http {
        url,
        insecure_skip_verify: false,
        ca: None,
        expected_status: expected,
    })
    .unwrap()
}

const T: Duration = Duration::from_secs(2);

#[tokio::test]
async fn tcp_connects_or_is_refused() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open = l.local_addr().unwrap().to_string();
    let r = Target::new(&Probe::Tcp { endpoint: open })
        .unwrap()
        .check(T)
        .await;
    assert!(r.ok && r.detail.starts_with("connected"), "{r:?}");
    drop(l);
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let r = Target::new(&Probe::Tcp { endpoint: addr })
        .unwrap()
        .check(T)
        .await;
    assert!(!r.ok && r.detail.contains("refused"), "{r:?}");
}

#[tokio::test]
async fn http_status_decides() {
    let ok = http_server(Some(200)).await;
    let down = http_server(Some(503)).await;
    let r = http(format!("http://{ok}/readyz"), None).check(T).await;
    assert!(r.ok && r.detail.starts_with("HTTP 200"), "{r:?}");
    let r = http(format!("http://{down}/readyz"), None).check(T).await;
    assert!(!r.ok && r.detail == "HTTP 503, want 2xx", "{r:?}");
    // An expected status other than 2xx.
    let r = http(format!("http://{down}/"), Some(503)).check(T).await;
    assert!(r.ok, "{r:?}");
    let r = http(format!("http://{ok}/"), Some(204)).check(T).await;
    assert!(!r.ok && r.detail == "HTTP 200, want 204", "{r:?}");
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let silent = http_server(None).await;
    let r = http(format!("http://{silent}/"), None)
        .check(Duration::from_millis(200))
        .await;
    assert!(!r.ok && r.detail == "no answer within 200 ms", "{r:?}");
}

/// An HTTPS server with a self-signed certificate for 127.0.0.1; returns
/// its address and the certificate (PEM).
async fn https_server() -> (std::net::SocketAddr, String) {
    use rustls_pki_types::PrivateKeyDer;
    let ck = machined_pki::self_signed(&["127.0.0.1".into()], 1).unwrap();
    let certs = CertificateDer::pem_slice_iter(ck.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(ck.key_pem.as_bytes()).unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acc = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else { return };
            let acc = acc.clone();
            tokio::spawn(async move {
                let Ok(mut s) = acc.accept(s).await else {
                    return;
                };
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await;
                let _ = s.shutdown().await;
            });
        }
    });
    (addr, ck.cert_pem)
}

#[tokio::test]
async fn https_verifies_against_the_given_ca() {
    let (addr, cert) = https_server().await;
    let url = format!("https://127.0.0.1:{}/readyz", addr.port());
    let with = |ca: Option<String>, insecure: bool| {
        Target::new(&Probe::Http {
            url: url.clone(),
            insecure_skip_verify: insecure,
            ca,
            expected_status: None,
        })
        .unwrap()
    };
    let r = with(Some(cert), false).check(T).await;
    assert!(r.ok, "{r:?}");
    let other = machined_pki::self_signed(&["127.0.0.1".into()], 1).unwrap();
    let r = with(Some(other.cert_pem), false).check(T).await;
    assert!(!r.ok && r.detail.contains("TLS with"), "{r:?}");
    let r = with(None, true).check(T).await;
    assert!(r.ok, "{r:?}");
}
