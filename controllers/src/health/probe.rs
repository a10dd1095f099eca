//! One health check: a TCP connect, or an HTTP(S) GET whose status is
//! checked; the whole attempt bounded by the check's timeout.

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use machined_resources::config::Probe;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Where a system's CA bundle lives (Debian's; the image carries it too).
const SYSTEM_CAS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// One result: whether it passed, and a line saying what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub ok: bool,
    pub detail: String,
}

/// A check made ready once (URL parsed, TLS configured), run many times.
pub enum Target {
    Tcp(String),
    Http {
        uri: hyper::Uri,
        host: String,
        port: u16,
        tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
        expected: Option<u16>,
    },
}

impl Target {
    pub fn new(p: &Probe) -> Result<Target, String> {
        match p {
            Probe::Tcp { endpoint } => Ok(Target::Tcp(endpoint.clone())),
            Probe::Http {
                url,
                insecure_skip_verify,
                ca,
                expected_status,
            } => {
                let uri: hyper::Uri = url.parse().map_err(|e| format!("url {url:?}: {e}"))?;
                let https = uri.scheme_str() == Some("https");
                let host = uri
                    .host()
                    .ok_or_else(|| format!("url {url:?} has no host"))?
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string();
                let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
                let tls = if https {
                    let name = ServerName::try_from(host.clone())
                        .map_err(|e| format!("url {url:?}: host: {e}"))?;
                    Some((tls(*insecure_skip_verify, ca.as_deref())?, name))
                } else {
                    None
                };
                Ok(Target::Http {
                    uri,
                    host,
                    port,
                    tls,
                    expected: *expected_status,
                })
            }
        }
    }

    /// Runs the check once, within `timeout`.
    pub async fn check(&self, timeout: Duration) -> Outcome {
        let started = Instant::now();
        let r = tokio::time::timeout(timeout, self.attempt()).await;
        let ms = started.elapsed().as_millis();
        match r {
            Err(_) => Outcome {
                ok: false,
                detail: format!("no answer within {} ms", timeout.as_millis()),
            },
            Ok(Err(why)) => Outcome {
                ok: false,
                detail: why,
            },
            Ok(Ok(what)) => Outcome {
                ok: true,
                detail: format!("{what} in {ms} ms"),
            },
        }
    }

    async fn attempt(&self) -> Result<String, String> {
        match self {
            Target::Tcp(endpoint) => {
                TcpStream::connect(endpoint.as_str())
                    .await
                    .map_err(|e| format!("connect {endpoint}: {e}"))?;
                Ok("connected".into())
            }
            Target::Http {
                uri,
                host,
                port,
                tls,
                expected,
            } => {
                let tcp = TcpStream::connect((host.as_str(), *port))
                    .await
                    .map_err(|e| format!("connect {host}:{port}: {e}"))?;
                let _ = tcp.set_nodelay(true);
                let status = match tls {
                    None => get(tcp, uri).await?,
                    Some((connector, name)) => {
                        let s = connector
                            .connect(name.clone(), tcp)
                            .await
                            .map_err(|e| format!("TLS with {host}:{port}: {e}"))?;
                        get(s, uri).await?
                    }
                };
                let good = match expected {
                    Some(want) => status == *want,
                    None => (200..300).contains(&status),
                };
                if good {
                    Ok(format!("HTTP {status}"))
                } else {
                    let want = expected.map_or("2xx".to_string(), |w| w.to_string());
                    Err(format!("HTTP {status}, want {want}"))
                }
            }
        }
    }
}

/// One GET on a fresh connection; the status code (the body is not read).
async fn get<S>(io: S, uri: &hyper::Uri) -> Result<u16, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    let conn = tokio::spawn(conn);
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::USER_AGENT, "machined-health-check")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("HTTP request: {e}"))?;
    let r = tx.send_request(req).await;
    conn.abort();
    r.map(|resp| resp.status().as_u16())
        .map_err(|e| format!("HTTP: {e}"))
}

fn tls(insecure: bool, ca: Option<&str>) -> Result<tokio_rustls::TlsConnector, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(machined_pki::tls::AnyServer(provider)))
            .with_no_client_auth()
    } else {
        let pem = match ca {
            Some(pem) => pem.to_string(),
            None => std::fs::read_to_string(SYSTEM_CAS)
                .map_err(|e| format!("reading {SYSTEM_CAS}: {e}"))?,
        };
        let mut roots = rustls::RootCertStore::empty();
        // A bundle may hold certificates rustls refuses; skip those.
        let _ = roots.add_parsable_certificates(
            CertificateDer::pem_slice_iter(pem.as_bytes()).filter_map(Result::ok),
        );
        if roots.is_empty() {
            return Err("no usable CA certificate".into());
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

#[cfg(test)]
#[path = "probe_tests.rs"]
mod tests;
