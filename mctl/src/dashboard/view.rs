//! Drawing one frame: the nodes as tabs; each VIP with its holder as the
//! selected node sees it and every node's own view of it (holding,
//! campaigning, health, why not); the selected node's etcd; its last events.

use super::model::NodeView;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table, Tabs};
use ratatui::Frame;

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// `2026-01-01T10:20:30.123Z` → `10:20:30`.
/// `HH:MM:SS` of an RFC 3339 time.
fn clock(t: &str) -> &str {
    t.get(11..19).unwrap_or(t)
}

pub fn draw(f: &mut Frame, nodes: &[NodeView], sel: usize) {
    // The VIP panel as tall as its content: borders, a line per VIP (and
    // one for an error), the table's header and a row per node and VIP.
    let vip_count = nodes.get(sel).map_or(0, |n| n.vips.len().max(1));
    let vip_height = 2 + vip_count + 2 + vip_count * nodes.len();
    let etcd_height = 3 + nodes
        .get(sel)
        .and_then(|n| n.etcd.as_ref())
        .map_or(0, |e| e.members.len());
    let [tabs, vips, etcd, events, help] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(vip_height as u16),
        Constraint::Length(etcd_height as u16),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let titles: Vec<Line> = nodes
        .iter()
        .map(|n| {
            let mark = if n.error.is_some() { " (!)" } else { "" };
            Line::from(format!("{}{mark}", n.node))
        })
        .collect();
    f.render_widget(
        Tabs::new(titles)
            .select(sel)
            .highlight_style(Style::new().bold().reversed())
            .block(Block::bordered().title(" mctl dashboard: nodes ")),
        tabs,
    );
    let Some(me) = nodes.get(sel) else { return };
    draw_vips(f, vips, nodes, me);
    draw_etcd(f, etcd, me);
    draw_events(f, events, me);
    f.render_widget(
        Paragraph::new("←/→, Tab or 1-9: switch node   q: quit").dim(),
        help,
    );
}

fn draw_vips(f: &mut Frame, area: Rect, nodes: &[NodeView], me: &NodeView) {
    let mut lines: Vec<Line> = Vec::new();
    if let Some(e) = &me.error {
        lines.push(Line::from(Span::raw(format!("{}: {e}", me.node)).red()));
    }
    if me.vips.is_empty() && me.error.is_none() {
        lines.push(Line::from("no VIP configured on this node"));
    }
    let mut rows = Vec::new();
    for v in &me.vips {
        let holder = if v.holder.is_empty() {
            "nobody"
        } else {
            &v.holder
        };
        lines.push(Line::from(vec![
            Span::raw(format!("VIP {} on {}: held by ", v.ip, v.link)),
            Span::raw(holder.to_string()).bold().green(),
            Span::raw(format!(
                " since {} ({} holder change(s)), as {} sees it",
                clock(&v.since.to_string()),
                v.transitions,
                me.node
            )),
        ]));
        for n in nodes {
            let theirs = n.vips.iter().find(|x| x.ip == v.ip);
            let health = n
                .health
                .iter()
                .find(|h| h.ip == v.ip)
                .map_or("-".to_string(), |h| h.state.to_string());
            let row = match (theirs, &n.error) {
                (_, Some(e)) => Row::new(vec![
                    n.node.clone(),
                    v.ip.clone(),
                    "?".into(),
                    "?".into(),
                    "?".into(),
                    format!("unreachable: {e}"),
                ])
                .red(),
                (None, None) => Row::new(vec![
                    n.node.clone(),
                    v.ip.clone(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "no such VIP here".into(),
                ]),
                (Some(t), None) => {
                    let r = Row::new(vec![
                        n.node.clone(),
                        v.ip.clone(),
                        yes(t.holding).into(),
                        yes(t.campaigning).into(),
                        health,
                        t.reason.clone(),
                    ]);
                    if t.holding {
                        r.green().bold()
                    } else {
                        r
                    }
                }
            };
            rows.push(row);
        }
    }
    let [head, table] = Layout::vertical([
        Constraint::Length(lines.len() as u16 + 1),
        Constraint::Min(3),
    ])
    .areas(Block::bordered().inner(area));
    f.render_widget(Block::bordered().title(" VIPs "), area);
    f.render_widget(Paragraph::new(lines), head);
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(16),
                Constraint::Length(16),
                Constraint::Length(8),
                Constraint::Length(12),
                Constraint::Length(9),
                Constraint::Min(20),
            ],
        )
        .header(
            Row::new([
                "NODE",
                "VIP",
                "HOLDING",
                "CAMPAIGNING",
                "HEALTH",
                "WHY NOT / NOTE",
            ])
            .bold(),
        ),
        table,
    );
}

fn draw_etcd(f: &mut Frame, area: Rect, me: &NodeView) {
    let block = Block::bordered().title(format!(" etcd, as {} sees it ", me.node));
    let Some(e) = &me.etcd else {
        f.render_widget(Paragraph::new("no etcd status (yet)").block(block), area);
        return;
    };
    let leader = if e.leader_name.is_empty() {
        &e.leader
    } else {
        &e.leader_name
    };
    let mut lines = vec![Line::from(format!(
        "phase {}, leader {}, {} member(s), restarts {}{}",
        e.phase.as_str(),
        if leader.is_empty() { "none" } else { leader },
        e.members.len(),
        e.restarts,
        if e.last_error.is_empty() {
            String::new()
        } else {
            format!(", last error: {}", e.last_error)
        }
    ))];
    for m in &e.members {
        let mark = if m.id == e.leader { " (leader)" } else { "" };
        let me_mark = if m.id == e.member_id {
            " (this node)"
        } else {
            ""
        };
        lines.push(Line::from(format!(
            "  {} {}{mark}{me_mark}  {}",
            m.id,
            m.name,
            m.peer_urls.join(",")
        )));
    }
    f.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_events(f: &mut Frame, area: Rect, me: &NodeView) {
    let block = Block::bordered().title(format!(" events on {} (newest last) ", me.node));
    let room = block.inner(area).height as usize;
    let skip = me.events.len().saturating_sub(room);
    let lines: Vec<Line> = me
        .events
        .iter()
        .skip(skip)
        .map(|e| {
            Line::from(vec![
                Span::raw(format!("{} ", clock(&e.time))).dim(),
                Span::raw(format!("{:<21} ", e.kind)).bold(),
                Span::raw(e.message.clone()),
            ])
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(block), area);
}
