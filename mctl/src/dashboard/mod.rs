//! `mctl dashboard`: a live terminal view of every node (ratatui over
//! crossterm): VIP holders and candidates, etcd, last events. Keys switch
//! nodes; `q` quits and puts the terminal back.

mod model;
mod view;

use crate::session::Session;
use anyhow::{bail, Result};
use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use model::{lock, NodeView, Shared};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the screen is drawn again without a key.
const FRAME: Duration = Duration::from_millis(200);

enum Key {
    Quit,
    Next,
    Prev,
    Pick(usize),
}

fn key(ev: &Event) -> Option<Key> {
    let Event::Key(k) = ev else { return None };
    if k.kind != KeyEventKind::Press {
        return None;
    }
    match k.code {
        KeyCode::Char('q') | KeyCode::Esc => Some(Key::Quit),
        KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => Some(Key::Quit),
        KeyCode::Right | KeyCode::Tab | KeyCode::Char('l') => Some(Key::Next),
        KeyCode::Left | KeyCode::BackTab | KeyCode::Char('h') => Some(Key::Prev),
        KeyCode::Char(c @ '1'..='9') => Some(Key::Pick(c as usize - '1' as usize)),
        _ => None,
    }
}

pub async fn run(s: Session) -> Result<bool> {
    if !std::io::stdout().is_terminal() {
        bail!("mctl dashboard needs a terminal (try mctl get vipstatus -w instead)");
    }
    let nodes = s.targets.clone();
    let shared: Shared = Arc::new(Mutex::new(
        nodes
            .iter()
            .map(|n| NodeView {
                node: n.clone(),
                ..Default::default()
            })
            .collect(),
    ));
    let s = Arc::new(s);
    for i in 0..nodes.len() {
        tokio::spawn(model::watch_node(s.clone(), i, shared.clone()));
        tokio::spawn(model::follow_events(s.clone(), i, shared.clone()));
    }
    let shared2 = shared.clone();
    // The terminal is driven from a blocking thread: crossterm's reads block.
    tokio::task::spawn_blocking(move || ui(shared2, nodes.len())).await?
}

fn ui(shared: Shared, n: usize) -> Result<bool> {
    let mut term = ratatui::init();
    let mut sel = 0usize;
    let r = (|| -> Result<()> {
        loop {
            let snapshot: Vec<NodeView> = lock(&shared).clone();
            term.draw(|f| view::draw(f, &snapshot, sel))?;
            if event::poll(FRAME)? {
                match key(&event::read()?) {
                    Some(Key::Quit) => return Ok(()),
                    Some(Key::Next) => sel = (sel + 1) % n,
                    Some(Key::Prev) => sel = (sel + n - 1) % n,
                    Some(Key::Pick(i)) if i < n => sel = i,
                    _ => {}
                }
            }
        }
    })();
    ratatui::restore();
    r.map(|_| true)
}
