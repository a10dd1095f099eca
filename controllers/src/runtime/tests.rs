use super::*;
use machined_resources::types::{AddressSpec, LinkSpec, LinkStatus};
use machined_resources::State;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

fn spec(name: &str, up: bool) -> LinkSpec {
    LinkSpec {
        name: name.into(),
        up,
        ..Default::default()
    }
}

/// Copies every LinkSpec into a LinkStatus of the same id (a toy reconcile of
/// the whole set), counting runs.
struct Mirror {
    runs: Arc<AtomicUsize>,
}

#[async_trait]
impl Controller for Mirror {
    fn name(&self) -> &'static str {
        "test.Mirror"
    }
    fn inputs(&self) -> Vec<Input> {
        vec![Input::of::<LinkSpec>()]
    }
    fn outputs(&self) -> Vec<Output> {
        vec![Output::exclusive::<LinkStatus>()]
    }
    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let mut keep = std::collections::HashSet::new();
        for s in ctx.list::<LinkSpec>()? {
            ctx.put(
                &s.metadata.id,
                &LinkStatus {
                    up: s.spec.up,
                    ..Default::default()
                },
            )?;
            keep.insert(s.metadata.id);
        }
        ctx.retain::<LinkStatus>(&keep)
    }
}

async fn until(mut f: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("condition not reached");
}

#[tokio::test]
async fn reconciles_on_input_changes_and_destroys_what_is_gone() {
    let state = State::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let mut e = Engine::new(state.clone());
    e.register(Mirror { runs: runs.clone() }).unwrap();
    let running = e.start();
    state.put("user", "eth0", &spec("eth0", true)).unwrap();
    until(|| {
        state
            .get_typed::<LinkStatus>("eth0")
            .unwrap()
            .is_some_and(|s| s.spec.up)
    })
    .await;
    state.put("user", "eth0", &spec("eth0", false)).unwrap();
    until(|| {
        state
            .get_typed::<LinkStatus>("eth0")
            .unwrap()
            .is_some_and(|s| !s.spec.up)
    })
    .await;
    state
        .destroy("network", "LinkSpec", "eth0", "user")
        .unwrap();
    until(|| state.get_typed::<LinkStatus>("eth0").unwrap().is_none()).await;

    running.shutdown().await;
}

#[tokio::test]
async fn bursts_of_changes_coalesce() {
    let state = State::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let mut e = Engine::new(state.clone());
    e.register(Mirror { runs: runs.clone() }).unwrap();
    let running = e.start();
    until(|| runs.load(Ordering::SeqCst) >= 1).await;
    // Let start-up settle (the initial wake and the watch's listing marker
    // may each cause a run), then count only what the burst causes.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before = runs.load(Ordering::SeqCst);
    // 200 writes with no await in between: the controller cannot run between
    // them on this single-threaded runtime.
    for i in 0..200 {
        state
            .put("user", &format!("l{i}"), &spec("x", true))
            .unwrap();
    }
    until(|| state.list("network", "LinkStatus").len() == 200).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let n = runs.load(Ordering::SeqCst) - before;
    assert!((1..=2).contains(&n), "200 changes caused {n} reconciles");
    running.shutdown().await;
}

/// Fails (or panics) a given number of times, recording when it ran.
struct Flaky {
    fail: usize,
    panic: bool,
    times: Arc<Mutex<Vec<Instant>>>,
}

#[async_trait]
impl Controller for Flaky {
    fn name(&self) -> &'static str {
        "test.Flaky"
    }
    fn inputs(&self) -> Vec<Input> {
        vec![]
    }
    fn outputs(&self) -> Vec<Output> {
        vec![]
    }
    async fn reconcile(&mut self, _ctx: &mut Ctx) -> Result<(), ControllerError> {
        let n = {
            let mut t = self.times.lock().unwrap();
            t.push(Instant::now());
            t.len()
        };
        if n <= self.fail {
            if self.panic {
                panic!("boom {n}");
            }
            return Err(
                ControllerError::io("failing", std::path::Path::new("test"))(
                    std::io::Error::other(format!("fail {n}")),
                ),
            );
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn errors_retry_with_exponential_backoff() {
    let times = Arc::new(Mutex::new(Vec::new()));
    let mut e = Engine::new(State::new());
    e.register(Flaky {
        fail: 4,
        panic: false,
        times: times.clone(),
    })
    .unwrap();
    let running = e.start();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let t = times.lock().unwrap().clone();
    assert_eq!(t.len(), 5, "4 failures then one success, then quiet");
    let gaps: Vec<u128> = t.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect();
    assert_eq!(gaps, vec![100, 200, 400, 800]);
    running.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_reconcile_is_restarted() {
    let times = Arc::new(Mutex::new(Vec::new()));
    let mut e = Engine::new(State::new());
    e.register(Flaky {
        fail: 2,
        panic: true,
        times: times.clone(),
    })
    .unwrap();
    let running = e.start();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(times.lock().unwrap().len(), 3);
    running.shutdown().await;
}

/// Writes to a type it did not declare.
struct Rogue {
    result: Arc<Mutex<Option<String>>>,
}

#[async_trait]
impl Controller for Rogue {
    fn name(&self) -> &'static str {
        "test.Rogue"
    }
    fn inputs(&self) -> Vec<Input> {
        vec![]
    }
    fn outputs(&self) -> Vec<Output> {
        vec![Output::shared::<LinkStatus>()]
    }
    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let spec = AddressSpec {
            address: "10.0.0.1/24".parse().unwrap(),
            link: "eth0".into(),
            layer: Default::default(),
            valid_until_ms: None,
        };
        let r = ctx.put("eth0/10.0.0.1/24", &spec);
        *self.result.lock().unwrap() = Some(format!("{r:?}"));
        Ok(())
    }
}

#[tokio::test]
async fn writes_to_undeclared_outputs_are_refused() {
    let state = State::new();
    let result = Arc::new(Mutex::new(None));
    let mut e = Engine::new(state.clone());
    e.register(Rogue {
        result: result.clone(),
    })
    .unwrap();
    let running = e.start();
    until(|| result.lock().unwrap().is_some()).await;
    let r = result.lock().unwrap().clone().unwrap();
    assert!(r.contains("Undeclared"), "{r}");
    assert!(state.list("network", "AddressSpec").is_empty());
    running.shutdown().await;
}

#[test]
fn a_second_exclusive_owner_is_refused() {
    let mut e = Engine::new(State::new());
    e.register(Mirror {
        runs: Default::default(),
    })
    .unwrap();
    let r = e.register(Rogue {
        result: Default::default(),
    });
    assert_eq!(
        r,
        Err(RegisterError::OutputConflict {
            type_: "LinkStatus",
            controller: "test.Rogue",
            other: "test.Mirror"
        })
    );
    assert_eq!(
        e.register(Mirror {
            runs: Default::default()
        }),
        Err(RegisterError::Duplicate("test.Mirror"))
    );
}

/// Records its shutdown into a shared log.
struct Named {
    name: &'static str,
    log: Arc<Mutex<Vec<&'static str>>>,
}

#[async_trait]
impl Controller for Named {
    fn name(&self) -> &'static str {
        self.name
    }
    fn inputs(&self) -> Vec<Input> {
        vec![]
    }
    fn outputs(&self) -> Vec<Output> {
        vec![]
    }
    async fn reconcile(&mut self, _ctx: &mut Ctx) -> Result<(), ControllerError> {
        self.log.lock().unwrap().push("run");
        Ok(())
    }
    async fn shutdown(&mut self, _ctx: &mut Ctx) -> Result<(), ControllerError> {
        self.log.lock().unwrap().push(self.name);
        Ok(())
    }
}

#[tokio::test]
async fn shutdown_runs_hooks_in_reverse_order() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut e = Engine::new(State::new());
    for name in ["first", "second", "third"] {
        e.register(Named {
            name,
            log: log.clone(),
        })
        .unwrap();
    }
    let running = e.start();
    until(|| log.lock().unwrap().len() == 3).await;
    running.shutdown().await;
    assert_eq!(&log.lock().unwrap()[3..], &["third", "second", "first"]);
}

/// Writes a LinkSpec only after a delay on its first run.
struct SlowProducer;

#[async_trait]
impl Controller for SlowProducer {
    fn name(&self) -> &'static str {
        "test.SlowProducer"
    }
    fn inputs(&self) -> Vec<Input> {
        vec![]
    }
    fn outputs(&self) -> Vec<Output> {
        vec![Output::exclusive::<LinkSpec>()]
    }
    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        tokio::time::sleep(Duration::from_millis(300)).await;
        ctx.put("eth0", &spec("eth0", true))
    }
}

/// Records how many LinkSpecs it saw on each run.
struct Consumer(Arc<Mutex<Vec<usize>>>);

#[async_trait]
impl Controller for Consumer {
    fn name(&self) -> &'static str {
        "test.Consumer"
    }
    fn inputs(&self) -> Vec<Input> {
        vec![Input::of::<LinkSpec>()]
    }
    fn outputs(&self) -> Vec<Output> {
        vec![]
    }
    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let n = ctx.list::<LinkSpec>()?.len();
        self.0.lock().unwrap().push(n);
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn consumers_first_run_waits_for_earlier_producers() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut e = Engine::new(State::new());
    e.register(SlowProducer).unwrap();
    e.register(Consumer(seen.clone())).unwrap();
    let running = e.start();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.first(),
        Some(&1),
        "first run must see the producer's output: {seen:?}"
    );
    running.shutdown().await;
}
