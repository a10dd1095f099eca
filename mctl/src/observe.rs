//! `mctl events`, `mctl logs`, `mctl dmesg`: a node's event history, its
//! own and etcd's log, the kernel log; from every node at once, each line
//! as it comes.

use crate::output;
use crate::session::Session;
use anyhow::{anyhow, Result};
use futures::StreamExt;
use machined_proto as pb;
use serde_json::json;

#[derive(clap::Args, Debug)]
pub struct EventsArgs {
    /// Past events to show first (-1: every one kept). Default: none, as
    /// talosctl events.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub tail: i32,
    /// Every kept event after this id instead.
    #[arg(long, default_value_t = 0)]
    pub since: u64,
    /// Print the history asked for and exit instead of following.
    #[arg(long)]
    pub no_follow: bool,
    /// A table, or one JSON object per line.
    #[arg(short = 'o', long = "output", value_parser = ["table", "json"], default_value = "table")]
    pub output: String,
}

#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    /// machined or etcd.
    pub service: String,
    /// Keep printing lines as they are written.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Past lines to show (-1: every one kept).
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    pub tail: i32,
}

#[derive(clap::Args, Debug)]
pub struct DmesgArgs {
    /// Keep printing messages as the kernel logs them.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Past messages to show (-1: every one the kernel keeps).
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    pub tail: i32,
}

const EVENT_COLUMNS: [(&str, usize); 4] = [("NODE", 12), ("ID", 6), ("EVENT", 22), ("SOURCE", 24)];

fn event_row(node: &str, e: &pb::Event, format: &str) -> String {
    if format == "json" {
        return json!({
            "node": node, "id": e.id, "time": e.time, "kind": e.kind,
            "source": e.source, "message": e.message, "fields": e.fields,
        })
        .to_string();
    }
    let cells = [node, &e.id.to_string(), &e.kind, &e.source];
    let mut s = String::new();
    for (c, (_, w)) in cells.iter().zip(EVENT_COLUMNS) {
        s.push_str(&format!("{c:<w$} "));
    }
    s + &e.message
}

fn missed(node: &str, n: u64, what: &str) {
    if n > 0 {
        eprintln!("{node}: {n} {what} left the node's buffer before they could be sent");
    }
}

async fn events_of(s: &Session, node: String, a: &EventsArgs) -> Result<()> {
    let mut c = s.observe(&node).await?;
    let mut st = c
        .events(pb::EventsRequest {
            tail_events: a.tail,
            since_id: a.since,
            follow: !a.no_follow,
        })
        .await
        .map_err(output::status)?
        .into_inner();
    while let Some(r) = st.next().await {
        let r = r.map_err(output::status)?;
        missed(&node, r.missed, "events");
        for e in &r.events {
            println!("{}", event_row(&node, e, &a.output));
        }
    }
    if a.no_follow {
        Ok(())
    } else {
        Err(anyhow!("{node}: the event stream ended"))
    }
}

/// Streams from every target at once; a node that fails is reported and
/// the others go on. True when all ended well.
async fn all<'a, F, Fut>(s: &'a Session, f: F) -> bool
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<()>> + 'a,
{
    let runs = s.targets.iter().map(|n| {
        let n = n.clone();
        let fut = f(n.clone());
        async move { (n, fut.await) }
    });
    let mut ok = true;
    for (n, r) in futures::future::join_all(runs).await {
        if let Err(e) = r {
            ok = false;
            eprintln!(
                "{n}: error: {}{}",
                crate::output::chain(&e),
                crate::session::where_hint()
            );
        }
    }
    ok
}

pub async fn events(s: &Session, a: EventsArgs) -> Result<bool> {
    if a.output == "table" {
        let head: Vec<String> = EVENT_COLUMNS
            .iter()
            .map(|(h, w)| format!("{h:<w$}"))
            .collect();
        println!("{} MESSAGE", head.join(" "));
    }
    Ok(all(s, |n| events_of(s, n, &a)).await)
}

/// Prints a node's lines as they come (prefixed by the node when several
/// are asked), saying what the node's buffer lost.
async fn print_lines(
    node: &str,
    prefix: bool,
    mut st: tonic::Streaming<pb::LogsResponse>,
) -> Result<()> {
    while let Some(r) = st.next().await {
        let r = r.map_err(output::status)?;
        missed(node, r.missed, "lines");
        for l in &r.lines {
            if prefix {
                println!("{node}: {}", l.text);
            } else {
                println!("{}", l.text);
            }
        }
    }
    Ok(())
}

pub async fn logs(s: &Session, a: LogsArgs) -> Result<bool> {
    let prefix = s.targets.len() > 1;
    let a = &a;
    Ok(all(s, |node| async move {
        let st = s
            .observe(&node)
            .await?
            .logs(pb::LogsRequest {
                service: a.service.clone(),
                tail_lines: a.tail,
                follow: a.follow,
            })
            .await
            .map_err(output::status)?
            .into_inner();
        print_lines(&node, prefix, st).await
    })
    .await)
}

pub async fn dmesg(s: &Session, a: DmesgArgs) -> Result<bool> {
    let prefix = s.targets.len() > 1;
    let a = &a;
    Ok(all(s, |node| async move {
        let st = s
            .observe(&node)
            .await?
            .dmesg(pb::DmesgRequest {
                tail_lines: a.tail,
                follow: a.follow,
            })
            .await
            .map_err(output::status)?
            .into_inner();
        print_lines(&node, prefix, st).await
    })
    .await)
}

#[derive(clap::Args, Debug)]
pub struct ProcessesArgs {
    /// Order by resident memory (`rss`), CPU time (`cpu`) or `pid`.
    #[arg(short = 's', long, value_parser = ["rss", "cpu", "pid"], default_value = "rss")]
    pub sort: String,
    /// A table, or one JSON object per line.
    #[arg(short = 'o', long = "output", value_parser = ["table", "json"], default_value = "table")]
    pub output: String,
}

fn mib(b: u64) -> String {
    format!("{:.1}M", b as f64 / 1048576.0)
}

/// `mctl processes`: every process of each node, as talosctl processes.
pub async fn processes(s: &Session, a: ProcessesArgs) -> Result<bool> {
    if a.output == "table" {
        println!(
            "{:<12} {:>7} {:>7} {:<5} {:>7} {:>10} {:>9} {:>9} COMMAND",
            "NODE", "PID", "PPID", "STATE", "THREADS", "CPU-TIME", "VIRTMEM", "RESMEM"
        );
    }
    let a = &a;
    Ok(s.each(
        |node| async move {
            let r = s
                .observe(&node)
                .await?
                .processes(pb::ProcessesRequest {})
                .await
                .map_err(output::status)?;
            Ok(r.into_inner())
        },
        |node, r| {
            let mut ps = r.processes;
            match a.sort.as_str() {
                "cpu" => ps.sort_by(|x, y| y.cpu_seconds.total_cmp(&x.cpu_seconds)),
                "pid" => ps.sort_by_key(|p| p.pid),
                _ => ps.sort_by_key(|p| std::cmp::Reverse(p.resident_memory)),
            }
            for p in &ps {
                let cmd = if p.args.is_empty() {
                    format!("[{}]", p.command)
                } else {
                    p.args.clone()
                };
                if a.output == "json" {
                    println!(
                        "{}",
                        json!({"node": node, "pid": p.pid, "ppid": p.ppid, "state": p.state,
                            "threads": p.threads, "cpuSeconds": p.cpu_seconds,
                            "virtualMemory": p.virtual_memory, "residentMemory": p.resident_memory,
                            "command": p.command, "args": p.args})
                    );
                } else {
                    println!(
                        "{:<12} {:>7} {:>7} {:<5} {:>7} {:>10.2} {:>9} {:>9} {}",
                        node,
                        p.pid,
                        p.ppid,
                        p.state,
                        p.threads,
                        p.cpu_seconds,
                        mib(p.virtual_memory),
                        mib(p.resident_memory),
                        cmd
                    );
                }
            }
            if r.omitted > 0 {
                eprintln!("{node}: {} more processes left out", r.omitted);
            }
        },
    )
    .await)
}
