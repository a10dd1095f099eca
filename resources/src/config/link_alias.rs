//! `kind: LinkAliasConfig`: a stable name for a physical link picked by a
//! CEL expression over what the kernel reports of it (`link.driver`,
//! `mac(link.permanent_addr)`, `link.alt_names`, ...), as Talos does. A
//! name with `%d` (`net%d`) names every match in order of hardware address.
//! The alias stands for the link wherever a link is named in the config.
//!
//! Expressions are bounded before the parser sees them (length, nesting)
//! and are parsed and run on a thread of their own with a large stack, so
//! no expression can overflow a runtime thread's stack.

use super::model::LinkAlias;
use super::values::check_link_name;
use super::walk::{Diag, Obj};
use crate::mac::{format_mac, HardwareAddr};
use crate::types::LinkStatus;
use cel::objects::Map;
use cel::parser::Parser;
use cel::{Context, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use yaml_serde::Value as Yaml;

/// Longest `selector.match` accepted, in bytes.
pub const MAX_EXPR_LEN: usize = 1024;
/// Deepest nesting the parser accepts.
const MAX_DEPTH: u16 = 16;
/// Stack of the thread that parses and runs expressions.
const STACK_BYTES: usize = 64 << 20;

/// `kind: LinkAliasConfig`: `name` and `selector.match`.
pub(super) struct LinkAliasConfig;

impl super::kinds::DocumentKind for LinkAliasConfig {
    fn kind(&self) -> &'static str {
        "LinkAliasConfig"
    }

    fn read(&self, doc: &Yaml, path: &str, g: &mut super::kinds::Gathered, d: &mut Diag) {
        document(doc, path, &mut g.link_aliases, d)
    }
}

pub fn document(doc: &Yaml, path: &str, out: &mut Vec<LinkAlias>, d: &mut Diag) {
    let mut o = Obj::new(Some(doc), path, d);
    o.accept(&["apiVersion", "kind"]);
    let name = o.string("name", d);
    let name_path = o.path("name");
    match &name {
        None => d.error(&name_path, "is required (the alias, e.g. net0 or net%d)"),
        Some(n) if n.contains('%') => match n.split_once('%') {
            Some((prefix, "d")) if !prefix.is_empty() => {
                check_link_name(&n.replace("%d", "99"), &name_path, d)
            }
            _ => d.error(
                &name_path,
                format!("{n:?}: a pattern takes one %d, at the end, after a prefix (net%d)"),
            ),
        },
        Some(n) => check_link_name(n, &name_path, d),
    }
    let mut sel = o.child("selector", d);
    let expr = sel.string("match", d);
    let expr_path = sel.path("match");
    match &expr {
        None => d.error(&expr_path, "is required (a CEL expression over `link`)"),
        Some(e) => {
            if let Err(reason) = check(e) {
                d.error(&expr_path, reason);
            }
        }
    }
    sel.finish(d);
    o.finish(d);
    let (Some(name), Some(expr)) = (name, expr) else {
        return;
    };
    if let Some(other) = out.iter().find(|a| a.name == name) {
        d.error(
            &name_path,
            format!("the alias is also defined at {}", other.path),
        );
        return;
    }
    out.push(LinkAlias {
        path: path.to_string(),
        name,
        expr,
    });
}

/// Whether `expr` is an expression machined accepts.
pub fn check(expr: &str) -> Result<(), String> {
    on_big_stack(|| parse(expr).map(|_| ())).unwrap_or_else(Err)
}

fn parse(expr: &str) -> Result<cel::parser::Expression, String> {
    if expr.len() > MAX_EXPR_LEN {
        return Err(format!(
            "is {} bytes long, more than the {MAX_EXPR_LEN} allowed",
            expr.len()
        ));
    }
    Parser::new()
        .max_recursion_depth(MAX_DEPTH)
        .parse(expr)
        .map_err(|e| format!("is not a valid CEL expression: {e}"))
}

fn on_big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, String> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("cel".into())
            .stack_size(STACK_BYTES)
            .spawn_scoped(s, f)
            .map_err(|e| format!("cannot start the expression thread: {e}"))?
            .join()
            .map_err(|_| "the expression evaluator failed".to_string())
    })
}

/// Links only Talos aliases: Ethernet devices of no virtual kind.
pub fn is_physical(l: &LinkStatus) -> bool {
    l.link_type == "ether" && l.kind.is_empty()
}

/// The bytes of a link's MAC (none when it is not a 6-byte one).
fn mac_bytes(a: &HardwareAddr) -> Vec<u8> {
    a.as_bytes().to_vec()
}

fn text(s: &str) -> Value {
    Value::String(Arc::new(s.to_string()))
}

/// The `link` variable: the fields of Talos's `LinkStatusSpec` machined
/// knows, under their Talos names.
fn link_value(l: &LinkStatus) -> Value {
    let mut m: HashMap<String, Value> = HashMap::new();
    m.insert("index".into(), Value::Int(l.index.into()));
    m.insert("type".into(), text(&l.link_type));
    m.insert("kind".into(), text(&l.kind));
    m.insert("driver".into(), text(&l.driver));
    m.insert("mtu".into(), Value::Int(l.mtu.into()));
    m.insert("operational_state".into(), text(l.oper_state.as_str()));
    let hw = mac_bytes(&l.hardware_addr);
    let perm = mac_bytes(&l.permanent_addr);
    m.insert("hardware_addr".into(), Value::Bytes(Arc::new(hw)));
    m.insert("permanent_addr".into(), Value::Bytes(Arc::new(perm)));
    let alt = l.alt_names.iter().map(|n| text(n)).collect();
    m.insert("alt_names".into(), Value::List(Arc::new(alt)));
    Value::Map(Map::from(m))
}

fn context(l: &LinkStatus) -> Context<'static, 'static> {
    let mut ctx = Context::default();
    // Registering a function under a fresh name cannot fail.
    let _ = ctx.add_function("mac", |b: Arc<Vec<u8>>| format_mac(&b));
    let _ = ctx.add_function("glob", |pattern: Arc<String>, s: Arc<String>| {
        glob_match::glob_match(&pattern, &s)
    });
    ctx.add_variable_from_value("link", link_value(l));
    ctx
}

/// What [`assign`] decided: alias per link name, and why some were not given.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Assignment {
    pub aliases: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

/// Talos's rules: aliases in name order; among physical links in order of
/// permanent (else current) hardware address; a fixed name needs exactly
/// one match; a link keeps the first alias it gets; `%d` counts from 0.
pub fn assign(aliases: &[LinkAlias], links: &[(String, LinkStatus)]) -> Assignment {
    if aliases.is_empty() {
        return Assignment::default();
    }
    on_big_stack(|| assign_now(aliases, links)).unwrap_or_else(|e| Assignment {
        aliases: BTreeMap::new(),
        warnings: vec![e],
    })
}

fn assign_now(aliases: &[LinkAlias], links: &[(String, LinkStatus)]) -> Assignment {
    let mut physical: Vec<&(String, LinkStatus)> =
        links.iter().filter(|(_, l)| is_physical(l)).collect();
    let key = |l: &LinkStatus| {
        let p = mac_bytes(&l.permanent_addr);
        if p.is_empty() {
            mac_bytes(&l.hardware_addr)
        } else {
            p
        }
    };
    physical.sort_by_key(|(name, l)| (key(l), name.clone()));
    let contexts: Vec<Context> = physical.iter().map(|(_, l)| context(l)).collect();
    let mut sorted: Vec<&LinkAlias> = aliases.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Assignment::default();
    for a in sorted {
        let expr = match parse(&a.expr) {
            Ok(e) => e,
            Err(e) => {
                out.warnings.push(format!("{}.selector.match {e}", a.path));
                continue;
            }
        };
        let mut matched = Vec::new();
        for ((name, _), ctx) in physical.iter().zip(&contexts) {
            match Value::resolve(&expr, ctx) {
                Ok(Value::Bool(true)) => matched.push(name.clone()),
                Ok(Value::Bool(false)) => {}
                Ok(other) => out.warnings.push(format!(
                    "{}.selector.match gives {other:?} for link {name}, not a boolean",
                    a.path
                )),
                Err(e) => out.warnings.push(format!(
                    "{}.selector.match fails on link {name}: {e}",
                    a.path
                )),
            }
        }
        let pattern = a.name.contains("%d");
        if matched.len() > 1 && !pattern {
            out.warnings.push(format!(
                "{}: alias {} matches several links ({}), given to none",
                a.path,
                a.name,
                matched.join(", ")
            ));
            continue;
        }
        matched.retain(|l| !out.aliases.contains_key(l));
        for (n, link) in matched.into_iter().enumerate() {
            let alias = a.name.replacen("%d", &n.to_string(), 1);
            out.aliases.insert(link, alias);
        }
    }
    out
}
