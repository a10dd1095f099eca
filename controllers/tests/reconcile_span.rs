//! Each reconcile runs inside a `reconcile` span carrying the controller's
//! name. In its own binary: tracing caches callsite interest per process, so
//! a subscriber set for one test races with tests running in parallel.

use async_trait::async_trait;
use machined_controllers::{Controller, ControllerError, Ctx, Engine, Input, Output};
use machined_resources::State;
use std::sync::{Arc, Mutex};
use tracing_subscriber::layer::SubscriberExt;

struct Quiet(Arc<Mutex<usize>>);

#[async_trait]
impl Controller for Quiet {
    fn name(&self) -> &'static str {
        "spanned"
    }
    fn inputs(&self) -> Vec<Input> {
        vec![]
    }
    fn outputs(&self) -> Vec<Output> {
        vec![]
    }
    async fn reconcile(&mut self, _ctx: &mut Ctx) -> Result<(), ControllerError> {
        *self.0.lock().unwrap() += 1;
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<String>>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={v:?}", f.name()));
    }
    fn record_str(&mut self, f: &tracing::field::Field, v: &str) {
        self.0.push_str(&format!("{}={v}", f.name()));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Spans {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _id: &tracing::span::Id,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = String::new();
        attrs.record(&mut Fields(&mut fields));
        self.0
            .lock()
            .unwrap()
            .push(format!("{} {fields}", attrs.metadata().name()));
    }
}

#[test]
fn each_reconcile_runs_in_a_span_named_for_the_controller() {
    let spans = Spans::default();
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(spans.clone()))
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let runs = Arc::new(Mutex::new(0));
    rt.block_on(async {
        let mut e = Engine::new(State::new());
        e.register(Quiet(runs.clone())).unwrap();
        let running = e.start();
        for _ in 0..1000 {
            if *runs.lock().unwrap() > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        running.shutdown().await;
    });
    assert_eq!(*runs.lock().unwrap(), 1);
    let got = spans.0.lock().unwrap().clone();
    assert!(
        got.contains(&"reconcile controller=spanned".to_string()),
        "{got:?}"
    );
}
