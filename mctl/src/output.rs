//! Printing resources: tables like talosctl, YAML and JSON with metadata and
//! spec.

use machined_resources::registry::Definition;
use machined_resources::Resource;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Yaml,
    Json,
}

/// A gRPC status as one readable line.
pub fn status(s: tonic::Status) -> anyhow::Error {
    // Transport failures carry their cause (e.g. a TLS alert) as a source.
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&s);
    let mut last = None;
    while let Some(c) = cause {
        last = Some(c.to_string());
        cause = c.source();
    }
    match last {
        Some(c) => anyhow::anyhow!("{}: {c}", s.message()),
        None => anyhow::anyhow!("{}", s.message()),
    }
}

pub struct Row {
    pub node: String,
    pub event: Option<&'static str>,
    pub resource: Resource,
}

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| cell(Some(x)))
            .collect::<Vec<_>>()
            .join(","),
        // An object in a cell shows as its name (e.g. etcd members).
        Some(Value::Object(o)) if o.contains_key("name") => cell(o.get("name")),
        Some(other) => other.to_string(),
    }
}

/// Column names: talosctl's common ones, then the resource's own.
pub fn header(def: &Definition, watch: bool) -> Vec<String> {
    let mut h: Vec<String> = Vec::new();
    if watch {
        h.push("EVENT".into());
    }
    h.extend(["NODE", "NAMESPACE", "TYPE", "ID", "VERSION"].map(String::from));
    h.extend(def.columns.iter().map(|c| c.name.to_string()));
    h
}

pub fn table(def: &Definition, rows: &[Row], header: bool) -> String {
    let watch = rows.iter().any(|r| r.event.is_some());
    let mut lines: Vec<Vec<String>> = Vec::new();
    if header {
        lines.push(self::header(def, watch));
    }
    for r in rows {
        let m = &r.resource.metadata;
        let mut l = Vec::new();
        if watch {
            l.push(r.event.unwrap_or("").to_string());
        }
        l.extend([
            r.node.clone(),
            m.namespace.clone(),
            m.type_.clone(),
            m.id.clone(),
            m.version.to_string(),
        ]);
        l.extend(
            def.columns
                .iter()
                .map(|c| cell(r.resource.spec.pointer(c.pointer))),
        );
        lines.push(l);
    }
    align(&lines)
}

/// Lines of cells as columns, three spaces apart.
pub fn align(lines: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..lines.first().map_or(0, Vec::len))
        .map(|i| {
            lines
                .iter()
                .map(|l| l.get(i).map_or(0, String::len))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for l in lines {
        let cells: Vec<String> = l
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths.get(i).copied().unwrap_or(0)))
            .collect();
        out.push_str(cells.join("   ").trim_end());
        out.push('\n');
    }
    out
}

fn document(r: &Row) -> Value {
    let mut v = json!({
        "node": r.node,
        "metadata": r.resource.metadata,
        "spec": r.resource.spec,
    });
    if let Some(e) = r.event {
        v["event"] = json!(e);
    }
    v
}

/// One compact JSON object per line.
pub fn json_lines(rows: &[Row]) -> String {
    rows.iter().map(|r| format!("{}\n", document(r))).collect()
}

/// YAML documents separated by `---`.
pub fn yaml(rows: &[Row]) -> String {
    rows.iter()
        .map(|r| {
            format!(
                "---\n{}",
                yaml_serde::to_string(&document(r)).unwrap_or_default()
            )
        })
        .collect()
}

/// An error with its causes, each once (`{:#}` would repeat a cause that a
/// library also prints in its own message).
pub fn chain(e: &anyhow::Error) -> String {
    let inner: &(dyn std::error::Error + 'static) = e.as_ref();
    machined_resources::error::chain(inner).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use machined_resources::Metadata;

    fn row() -> Row {
        Row {
            node: "10.5.0.11".into(),
            event: None,
            resource: Resource {
                metadata: Metadata::new("network", "AddressStatus", "eth0/10.5.0.11/24", "ctl"),
                spec: json!({"address": "10.5.0.11/24", "link": "eth0", "scope": "global", "ours": true}),
            },
        }
    }

    #[test]
    fn table_has_talosctl_columns_then_the_resource_columns() {
        let def = machined_resources::registry::lookup("addresses").unwrap();
        let t = table(def, &[row()], true);
        let mut lines = t.lines();
        let head: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(head[..5], ["NODE", "NAMESPACE", "TYPE", "ID", "VERSION"]);
        assert!(head.contains(&"ADDRESS") && head.contains(&"OURS"));
        let cells: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(
            cells,
            [
                "10.5.0.11",
                "network",
                "AddressStatus",
                "eth0/10.5.0.11/24",
                "0",
                "10.5.0.11/24",
                "eth0",
                "global",
                "true"
            ]
        );
    }

    #[test]
    fn json_and_yaml_carry_metadata_and_spec() {
        let j: Value = serde_json::from_str(json_lines(&[row()]).trim()).unwrap();
        assert_eq!(j["metadata"]["id"], "eth0/10.5.0.11/24");
        assert_eq!(j["spec"]["link"], "eth0");
        assert_eq!(j["node"], "10.5.0.11");
        let y = yaml(&[row()]);
        assert!(
            y.starts_with("---\n") && y.contains("spec:") && y.contains("metadata:"),
            "{y}"
        );
    }
}
