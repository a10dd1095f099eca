//! `mctl cluster stand-in`: a stand-in for the service a VIP fronts (the
//! Kubernetes API server on :6443), so the lab can exercise VIP health
//! checks. HTTPS with a fresh self-signed certificate (or plain HTTP);
//! `/readyz`, `/livez` and `/healthz` answer 200 `ok`, or 503 `down` while
//! the down file exists; anything else is 404.

use anyhow::{Context, Result};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

#[derive(clap::Args, Debug)]
pub struct StandInArgs {
    /// Address to serve on.
    #[arg(long, default_value = "0.0.0.0:6443")]
    pub listen: SocketAddr,
    /// While this file exists, the health paths answer 503.
    #[arg(long)]
    pub down_file: Option<PathBuf>,
    /// Plain HTTP instead of HTTPS.
    #[arg(long)]
    pub http: bool,
}

/// How long a client may take to send its request (and finish TLS).
const CLIENT_DEADLINE: Duration = Duration::from_secs(10);

fn tls() -> Result<tokio_rustls::TlsAcceptor> {
    let ck = machined_pki::self_signed(&["localhost".into(), "127.0.0.1".into()], 365)
        .context("self-signed certificate")?;
    let certs = CertificateDer::pem_slice_iter(ck.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .context("certificate PEM")?;
    let key = PrivateKeyDer::from_pem_slice(ck.key_pem.as_bytes()).context("key PEM")?;
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certs, key)?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

fn answer(req: &Request<Incoming>, down: bool) -> Response<Full<Bytes>> {
    let (status, body) = match req.uri().path() {
        "/readyz" | "/livez" | "/healthz" if down => (StatusCode::SERVICE_UNAVAILABLE, "down\n"),
        "/readyz" | "/livez" | "/healthz" => (StatusCode::OK, "ok\n"),
        _ => (StatusCode::NOT_FOUND, "not found\n"),
    };
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r
}

async fn serve_one<S>(io: S, down_file: Option<Arc<PathBuf>>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let down = down_file.as_ref().is_some_and(|p| p.exists());
        async move { Ok::<_, std::convert::Infallible>(answer(&req, down)) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(CLIENT_DEADLINE)
        .serve_connection(TokioIo::new(io), svc);
    let _ = conn.await;
}

pub async fn run(a: &StandInArgs) -> Result<bool> {
    let listener = TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("binding {}", a.listen))?;
    let acceptor = if a.http { None } else { Some(tls()?) };
    let down = a.down_file.clone().map(Arc::new);
    eprintln!(
        "stand-in service on {}://{} (down while {} exists)",
        if a.http { "http" } else { "https" },
        a.listen,
        a.down_file
            .as_ref()
            .map_or("<no down file>".into(), |p| p.display().to_string())
    );
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors and the like: wait, do not spin.
                eprintln!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (acceptor, down) = (acceptor.clone(), down.clone());
        tokio::spawn(async move {
            match acceptor {
                None => serve_one(tcp, down).await,
                Some(acc) => {
                    if let Ok(Ok(tls)) =
                        tokio::time::timeout(CLIENT_DEADLINE, acc.accept(tcp)).await
                    {
                        serve_one(tls, down).await;
                    }
                }
            }
        });
    }
}
