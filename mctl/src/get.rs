//! `mctl get TYPE [ID] [-o table|yaml|json] [-w]`.

use crate::output::{self, Format, Row};
use crate::session::Session;
use anyhow::{anyhow, Result};
use futures::StreamExt;
use machined_client::convert;
use machined_proto as pb;
use machined_resources::registry::{self, Definition};

#[derive(clap::Args, Debug)]
pub struct GetArgs {
    /// Resource type or alias (vipstatus, etcdstatus, links, addresses, ...);
    /// `mctl get rd` lists every type with its aliases.
    #[arg(name = "TYPE")]
    type_: String,
    /// A single resource.
    #[arg(name = "ID")]
    id: Option<String>,
    /// How to print: a table, or each resource as YAML or one JSON line.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    output: Format,
    /// Print changes as they happen.
    #[arg(short = 'w', long)]
    watch: bool,
    /// Namespace, if not the type's own.
    #[arg(long, default_value = "")]
    namespace: String,
}

/// What `mctl get rd` answers to (Talos's name and its alias).
const DEFINITIONS: [&str; 3] = ["rd", "resourcedefinitions", "resourcedefinition"];

impl GetArgs {
    /// Asks for the resource types themselves.
    pub fn definitions(&self) -> bool {
        DEFINITIONS.contains(&self.type_.to_ascii_lowercase().as_str())
    }
}

/// `mctl get rd`: every resource type this mctl (and a machined of the
/// same version) knows, with its aliases and namespace; no node is asked.
pub fn definitions(a: &GetArgs) -> Result<bool> {
    let defs = registry::definitions();
    match a.output {
        Format::Table => {
            let mut rows = vec![vec![
                "TYPE".to_string(),
                "ALIASES".into(),
                "NAMESPACE".into(),
                "ADMIN ONLY".into(),
            ]];
            for d in defs {
                rows.push(vec![
                    d.type_.to_string(),
                    d.aliases.join(","),
                    d.namespace.to_string(),
                    if d.sensitive { "yes" } else { "" }.to_string(),
                ]);
            }
            print!("{}", output::align(&rows));
        }
        Format::Yaml | Format::Json => {
            for d in defs {
                let v = serde_json::json!({
                    "type": d.type_,
                    "aliases": d.aliases,
                    "namespace": d.namespace,
                    "adminOnly": d.sensitive,
                });
                if a.output == Format::Json {
                    println!("{v}");
                } else {
                    print!("---\n{}", yaml_serde::to_string(&v)?);
                }
            }
        }
    }
    Ok(true)
}

fn print(def: &Definition, fmt: Format, rows: &[Row], header: bool) {
    let s = match fmt {
        Format::Table => output::table(def, rows, header),
        Format::Yaml => output::yaml(rows),
        Format::Json => output::json_lines(rows),
    };
    print!("{s}");
}

fn decode(node: &str, r: Option<pb::Resource>, event: Option<&'static str>) -> Result<Row> {
    let resource = r
        .as_ref()
        .and_then(convert::from_proto)
        .ok_or_else(|| anyhow!("{node}: malformed resource in reply"))?;
    Ok(Row {
        node: node.to_string(),
        event,
        resource,
    })
}

async fn fetch(s: &Session, node: &str, a: &GetArgs, def: &Definition) -> Result<Vec<Row>> {
    let mut c = s.resources(node).await?;
    match &a.id {
        Some(id) => {
            let r = c
                .get(pb::GetRequest {
                    r#type: def.type_.into(),
                    id: id.clone(),
                    namespace: a.namespace.clone(),
                })
                .await
                .map_err(output::status)?;
            Ok(vec![decode(node, r.into_inner().resource, None)?])
        }
        None => {
            let r = c
                .list(pb::ListRequest {
                    r#type: def.type_.into(),
                    namespace: a.namespace.clone(),
                })
                .await
                .map_err(output::status)?;
            r.into_inner()
                .resources
                .into_iter()
                .map(|r| decode(node, Some(r), None))
                .collect()
        }
    }
}

async fn watch(s: &Session, node: String, a: &GetArgs, def: &'static Definition) -> Result<()> {
    let mut c = s.resources(&node).await?;
    let mut stream = c
        .watch(pb::WatchRequest {
            r#type: def.type_.into(),
            namespace: a.namespace.clone(),
            id: a.id.clone().unwrap_or_default(),
        })
        .await
        .map_err(output::status)?
        .into_inner();
    while let Some(ev) = stream.next().await {
        let ev = ev.map_err(output::status)?;
        let kind = match pb::EventType::try_from(ev.event) {
            Ok(pb::EventType::Created) => "+",
            Ok(pb::EventType::Updated) => "~",
            Ok(pb::EventType::Destroyed) => "-",
            _ => continue, // bootstrapped marker
        };
        let row = decode(&node, ev.resource, Some(kind))?;
        print(def, a.output, &[row], false);
    }
    Err(anyhow!("{node}: watch ended by the node"))
}

pub async fn run(s: &Session, a: GetArgs) -> Result<bool> {
    let def = registry::lookup(&a.type_).ok_or_else(|| {
        let known: Vec<&str> = registry::definitions()
            .iter()
            .map(|d| d.aliases[0])
            .collect();
        anyhow!(
            "unknown resource type {:?} (known: {})",
            a.type_,
            known.join(", ")
        )
    })?;
    let nodes = s.targets.clone();
    if a.watch {
        if a.output == Format::Table {
            println!("{}", output::header(def, true).join("   "));
        }
        let all = futures::future::join_all(nodes.into_iter().map(|n| watch(s, n, &a, def))).await;
        for r in all {
            r?;
        }
        return Ok(true);
    }
    let mut rows = Vec::new();
    let mut ok = true;
    for n in &nodes {
        match fetch(s, n, &a, def).await {
            Ok(r) => rows.extend(r),
            Err(e) if nodes.len() == 1 => return Err(e),
            Err(e) => {
                ok = false;
                eprintln!(
                    "{n}: error: {}{}",
                    crate::output::chain(&e),
                    crate::session::where_hint()
                );
            }
        }
    }
    print(def, a.output, &rows, true);
    Ok(ok)
}
