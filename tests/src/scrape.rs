//! Reading a node's `/metrics` as a scraper in the lab would: an HTTP GET
//! (hyper's client) from a thread inside a namespace, and a strict reader
//! of the exposition text (OpenMetrics as prometheus-client writes it).

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use std::collections::{BTreeMap, HashMap};

/// (status, content type, body) of `GET http://addr/path` from `netns`.
pub fn get(netns: &str, addr: &str, path: &str) -> Result<(u16, String, String), String> {
    let (netns, addr, path) = (netns.to_string(), addr.to_string(), path.to_string());
    std::thread::spawn(move || {
        crate::ns::enter(&netns).map_err(|e| format!("entering {netns}: {e}"))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async move {
            let tcp = tokio::net::TcpStream::connect(&addr)
                .await
                .map_err(|e| format!("connect {addr}: {e}"))?;
            let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            let req = hyper::Request::get(&path)
                .header(hyper::header::HOST, &addr)
                .body(Empty::<Bytes>::new())
                .map_err(|e| e.to_string())?;
            let resp = tx.send_request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status().as_u16();
            let ctype = resp
                .headers()
                .get(hyper::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok((status, ctype, String::from_utf8_lossy(&body).into_owned()))
        })
    })
    .join()
    .map_err(|_| "scrape thread panicked".to_string())?
}

/// Samples by metric name, then by label set.
pub type Samples = HashMap<String, Vec<(BTreeMap<String, String>, f64)>>;

fn labels(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (k, after) = rest
            .split_once("=\"")
            .ok_or(format!("label without =\": {s}"))?;
        let mut v = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => v.push('\n'),
                    Some((_, c)) => v.push(c),
                    None => return Err(format!("dangling escape: {s}")),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => v.push(c),
                None => return Err(format!("unterminated label value: {s}")),
            }
        };
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("bad label name {k:?}"));
        }
        out.insert(k.to_string(), v);
        rest = after[end + 1..]
            .strip_prefix(',')
            .unwrap_or(&after[end + 1..]);
    }
    Ok(out)
}

/// Reads the text: every sample's family declared by `# TYPE` before it,
/// `# EOF` last, names and values well formed.
pub fn parse(text: &str) -> Result<Samples, String> {
    let mut families: Vec<String> = Vec::new();
    let mut out = Samples::new();
    let mut eof = false;
    for line in text.lines() {
        if eof {
            return Err(format!("a line after # EOF: {line}"));
        }
        if line == "# EOF" {
            eof = true;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or(format!("bad TYPE: {line}"))?;
            if ![
                "counter",
                "gauge",
                "info",
                "histogram",
                "summary",
                "unknown",
                "stateset",
                "gaugehistogram",
            ]
            .contains(&kind)
            {
                return Err(format!("unknown type {kind}"));
            }
            families.push(name.to_string());
            continue;
        }
        if line.starts_with("# HELP ") || line.starts_with("# UNIT ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').ok_or(format!("no value: {line}"))?;
        let value: f64 = value.parse().map_err(|_| format!("bad value: {line}"))?;
        let (name, ls) = match series.split_once('{') {
            Some((n, l)) => (
                n,
                labels(
                    l.strip_suffix('}')
                        .ok_or(format!("unclosed labels: {line}"))?,
                )?,
            ),
            None => (series, BTreeMap::new()),
        };
        if !families.iter().any(|f| {
            name == f
                || name
                    .strip_prefix(f.as_str())
                    .is_some_and(|s| ["_total", "_info", "_created"].contains(&s))
        }) {
            return Err(format!("sample {name} has no # TYPE before it"));
        }
        out.entry(name.to_string()).or_default().push((ls, value));
    }
    if !eof {
        return Err("no # EOF at the end".into());
    }
    Ok(out)
}

/// The value of `name` with `label = value` (or the only one, with no
/// label given); `None` if absent.
pub fn value(s: &Samples, name: &str, label: Option<(&str, &str)>) -> Option<f64> {
    s.get(name)?.iter().find_map(|(ls, v)| match label {
        None => Some(*v),
        Some((k, want)) => (ls.get(k).map(String::as_str) == Some(want)).then_some(*v),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_prometheus_reads_and_refuses_the_rest() {
        let text = "# HELP a_total x\n# TYPE a counter\na_total{vip=\"1\",reason=\"q\\\"x\"} 3\n# TYPE b gauge\nb 0.5\n# EOF\n";
        let s = parse(text).unwrap();
        assert_eq!(value(&s, "a_total", Some(("reason", "q\"x"))), Some(3.0));
        assert_eq!(value(&s, "b", None), Some(0.5));
        for bad in [
            "c 1\n# EOF\n",
            "# TYPE b gauge\nb x\n# EOF\n",
            "# TYPE b gauge\nb 1\n",
            "# TYPE b gauge\nb{v=\"1} 1\n# EOF\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
