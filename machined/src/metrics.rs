//! `--metrics-listen`: Prometheus metrics at `/metrics` and a liveness
//! answer at `/healthz`, plain HTTP (kube-vip's port 2112 by default, on
//! loopback). At most [`MAX_CONNS`] connections at once; a client has
//! [`HEADER_DEADLINE`] to send its request.

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

const MAX_CONNS: usize = 16;
const HEADER_DEADLINE: Duration = Duration::from_secs(10);

fn answer(req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let (status, ctype, body) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => (
            StatusCode::OK,
            machined_telemetry::metrics::CONTENT_TYPE,
            machined_telemetry::metrics::get().render(),
        ),
        (&Method::GET, "/healthz") => (StatusCode::OK, "text/plain", "ok\n".into()),
        (_, "/metrics" | "/healthz") => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "only GET\n".into(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: /metrics or /healthz\n".into(),
        ),
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(ctype) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

/// Serves until the process ends.
pub fn serve(listener: TcpListener) {
    let slots = Arc::new(Semaphore::new(MAX_CONNS));
    tokio::spawn(async move {
        loop {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let (tcp, _) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %machined_resources::error::chain(&e), "metrics: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            tokio::spawn(async move {
                let _permit = permit;
                let svc = hyper::service::service_fn(|req: Request<Incoming>| async move {
                    Ok::<_, std::convert::Infallible>(answer(&req))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_DEADLINE)
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
}

/// Binds `addr` (`off`: no endpoint), retrying every second while the
/// address is not on this node yet (it comes with the config, or by DHCP);
/// a failure is logged, never fatal: the VIP matters more than its metrics.
pub fn start(addr: &str) {
    if addr == "off" || addr.is_empty() {
        return;
    }
    let parsed: std::net::SocketAddr = match addr.parse() {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(addr, error = %machined_resources::error::chain(&e), "--metrics-listen is not ADDRESS:PORT; no metrics");
            return;
        }
    };
    tokio::spawn(async move {
        let mut said = false;
        loop {
            match TcpListener::bind(parsed).await {
                Ok(l) => {
                    tracing::info!(listen = %parsed, "metrics at /metrics");
                    return serve(l);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => {
                    if !said {
                        tracing::info!(listen = %parsed, "metrics wait for the address to come up");
                        said = true;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => {
                    return tracing::warn!(listen = %parsed, error = %machined_resources::error::chain(&e), "cannot serve metrics");
                }
            }
        }
    });
}
