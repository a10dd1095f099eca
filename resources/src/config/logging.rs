//! Where the node pushes its logs and events: Talos's
//! `machine.logging.destinations` (`endpoint: tcp://HOST:PORT` or
//! `udp://HOST:PORT`, `format: json_lines`, `extraTags`) and an
//! `EventSinkConfig` document (`endpoint`; machined sends its events there
//! as JSON lines over TCP or UDP, not Talos's gRPC).

use super::walk::{Diag, Obj};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use yaml_serde::Value;

/// At most this many log destinations.
pub const MAX_DESTINATIONS: usize = 8;
/// At most this many extra tags per destination.
pub const MAX_TAGS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
}

/// A receiver of JSON lines.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SinkEndpoint {
    pub transport: Transport,
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for SinkEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match self.transport {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// One `machine.logging.destinations[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogDestination {
    pub endpoint: SinkEndpoint,
    #[serde(default)]
    pub extra_tags: BTreeMap<String, String>,
}

/// `tcp://HOST:PORT`, `udp://HOST:PORT`, or (`bare_tcp`) `HOST:PORT` as TCP.
pub fn parse_endpoint(text: &str, bare_tcp: bool) -> Result<SinkEndpoint, String> {
    let (transport, rest) = if let Some(r) = text.strip_prefix("tcp://") {
        (Transport::Tcp, r)
    } else if let Some(r) = text.strip_prefix("udp://") {
        (Transport::Udp, r)
    } else if bare_tcp && !text.contains("://") {
        (Transport::Tcp, text)
    } else {
        return Err(format!(
            "{text:?}: write tcp://HOST:PORT or udp://HOST:PORT"
        ));
    };
    let e = crate::endpoint::Endpoint::parse(rest.trim_end_matches('/'))
        .map_err(|e| format!("{text:?}: {e}"))?;
    let port = e
        .port
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("{text:?}: a port is required"))?;
    let host = match e.host {
        crate::endpoint::Host::Ip(ip) => ip.to_string(),
        crate::endpoint::Host::Name(n) => n,
    };
    Ok(SinkEndpoint {
        transport,
        host,
        port,
    })
}

/// `machine.logging`.
pub fn destinations(machine: &mut Obj<'_>, d: &mut Diag) -> Vec<LogDestination> {
    let mut logging = machine.child("logging", d);
    let items = logging.list("destinations", d);
    logging.finish(d);
    if items.len() > MAX_DESTINATIONS {
        d.error(
            machine.path("logging.destinations"),
            format!("at most {MAX_DESTINATIONS} destinations"),
        );
        return Vec::new();
    }
    items
        .into_iter()
        .filter_map(|(path, v)| destination(v, &path, d))
        .collect()
}

fn destination(v: &Value, path: &str, d: &mut Diag) -> Option<LogDestination> {
    let mut o = Obj::new(Some(v), path, d);
    let endpoint = match o.string("endpoint", d) {
        Some(s) => match parse_endpoint(&s, false) {
            Ok(e) => Some(e),
            Err(why) => {
                d.error(o.path("endpoint"), why);
                None
            }
        },
        None => {
            d.error(
                o.path("endpoint"),
                "is required (tcp://HOST:PORT or udp://HOST:PORT)",
            );
            None
        }
    };
    match o.string("format", d).as_deref() {
        Some("json_lines") => {}
        Some(other) => d.error(
            o.path("format"),
            format!("{other:?} is not supported (json_lines)"),
        ),
        None => d.error(o.path("format"), "is required (json_lines)"),
    }
    let mut extra_tags = BTreeMap::new();
    let mut tags = o.child("extraTags", d);
    if let Some(Value::Mapping(m)) = tags.raw() {
        if m.len() > MAX_TAGS {
            d.error(&tags.path, format!("at most {MAX_TAGS} tags"));
        }
        for (k, v) in m.iter().take(MAX_TAGS) {
            match (k.as_str(), v.as_str()) {
                (Some(k), Some(v)) => {
                    extra_tags.insert(k.to_string(), v.to_string());
                }
                _ => d.error(&tags.path, "tags are strings: NAME: VALUE"),
            }
        }
    }
    tags.accept_all();
    tags.finish(d);
    o.finish(d);
    Some(LogDestination {
        endpoint: endpoint?,
        extra_tags,
    })
}

/// A `kind: EventSinkConfig` document.
pub(super) struct EventSinkConfig;

impl super::kinds::DocumentKind for EventSinkConfig {
    fn kind(&self) -> &'static str {
        "EventSinkConfig"
    }

    fn read(&self, doc: &Value, path: &str, g: &mut super::kinds::Gathered, d: &mut Diag) {
        event_sink(doc, path, &mut g.event_sink, d)
    }
}

pub fn event_sink(doc: &Value, path: &str, out: &mut Option<SinkEndpoint>, d: &mut Diag) {
    let mut o = Obj::new(Some(doc), path, d);
    o.accept(&["apiVersion", "kind"]);
    match o.string("endpoint", d) {
        Some(s) => match parse_endpoint(&s, true) {
            Ok(e) if out.is_none() => *out = Some(e),
            Ok(_) => d.error(path, "a second EventSinkConfig: give one"),
            Err(why) => d.error(o.path("endpoint"), why),
        },
        None => d.error(
            o.path("endpoint"),
            "is required (HOST:PORT, tcp:// or udp://)",
        ),
    }
    o.finish(d);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = parse_endpoint("tcp://10.5.0.1:5044", false).unwrap();
        assert_eq!(
            (e.transport, e.host.as_str(), e.port),
            (Transport::Tcp, "10.5.0.1", 5044)
        );
        assert_eq!(e.to_string(), "tcp://10.5.0.1:5044");
        let e = parse_endpoint("udp://[fd00::1]:514/", false).unwrap();
        assert_eq!((e.transport, e.host.as_str()), (Transport::Udp, "fd00::1"));
        assert_eq!(e.to_string(), "udp://[fd00::1]:514");
        assert_eq!(
            parse_endpoint("10.5.0.1:4000", true).unwrap().transport,
            Transport::Tcp
        );
        for bad in [
            "10.5.0.1:4000",
            "http://10.5.0.1:1",
            "tcp://10.5.0.1",
            "tcp://:5",
        ] {
            assert!(parse_endpoint(bad, false).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod config_tests {
    use crate::config::parse;

    const BASE: &str = "version: v1alpha1\nmachine:\n  type: controlplane\n";

    #[test]
    fn destinations_and_the_event_sink_are_read_and_checked() {
        let text = format!(
            "{BASE}  logging:\n    destinations:\n      - endpoint: tcp://10.5.0.1:5044\n        format: json_lines\n        extraTags: {{cluster: demo}}\n      - endpoint: udp://[fd00::1]:514/\n        format: json_lines\n---\napiVersion: v1alpha1\nkind: EventSinkConfig\nendpoint: 10.5.0.1:4000\n"
        );
        let c = parse(&text).expect("valid").config;
        assert_eq!(c.log_destinations.len(), 2);
        assert_eq!(
            c.log_destinations[0].endpoint.to_string(),
            "tcp://10.5.0.1:5044"
        );
        assert_eq!(c.log_destinations[0].extra_tags["cluster"], "demo");
        assert_eq!(
            c.log_destinations[1].endpoint.to_string(),
            "udp://[fd00::1]:514"
        );
        assert_eq!(
            c.event_sink.expect("sink").to_string(),
            "tcp://10.5.0.1:4000"
        );

        for (bad, path) in [
            (
                "endpoint: http://x:1\n        format: json_lines",
                "machine.logging.destinations[0].endpoint",
            ),
            (
                "endpoint: tcp://x:1\n        format: syslog",
                "machine.logging.destinations[0].format",
            ),
            (
                "endpoint: tcp://x:1\n        format: json_lines\n        extraTag: {a: b}",
                "machine.logging.destinations[0].extraTag",
            ),
        ] {
            let text = format!("{BASE}  logging:\n    destinations:\n      - {bad}\n");
            let e = parse(&text).expect_err(path);
            assert!(e.errors.iter().any(|e| e.path == path), "{path}: {e:?}");
        }
    }
}
