//! The sink controller: one pushing runner per log destination
//! (`machine.logging.destinations`) and one for the event sink
//! (`EventSinkConfig`), from the applied config. A changed destination
//! restarts its runner; a removed one stops; a runner that dies is started
//! again by the runtime's runner set. It writes no resource: what the
//! destinations got is in `/metrics`.

use super::push::{self, Destination, Stream};
use crate::runtime::operator::Runners;
use crate::{Controller, ControllerError, Ctx, Input, Output, Waker};
use async_trait::async_trait;
use machined_resources::types::MachineConfigSpec;
use std::collections::HashMap;

pub struct SinkController {
    running: Runners<String, Destination, ()>,
}

impl Default for SinkController {
    fn default() -> Self {
        SinkController {
            running: Runners::new(
                "sink",
                Box::new(|key: &String, d: &Destination, _: &(), _| {
                    use futures::FutureExt;
                    use tracing::Instrument;
                    let span = tracing::info_span!("sink", destination = %key);
                    push::run(d.clone()).instrument(span).boxed()
                }),
            ),
        }
    }
}

/// The destinations the config asks for, by a name that says what goes
/// where (`logs tcp://10.5.0.1:5044`).
fn wanted(spec: Option<&MachineConfigSpec>) -> HashMap<String, Destination> {
    let mut out = HashMap::new();
    let Some(c) = spec.map(|s| &s.config) else {
        return out;
    };
    for l in &c.log_destinations {
        let d = Destination {
            stream: Stream::Logs,
            endpoint: l.endpoint.clone(),
            tags: l.extra_tags.clone(),
        };
        out.insert(format!("logs {}", l.endpoint), d);
    }
    if let Some(e) = &c.event_sink {
        let d = Destination {
            stream: Stream::Events,
            endpoint: e.clone(),
            tags: Default::default(),
        };
        out.insert(format!("events {e}"), d);
    }
    out
}

#[async_trait]
impl Controller for SinkController {
    fn name(&self) -> &'static str {
        "telemetry.SinkController"
    }

    fn inputs(&self) -> Vec<Input> {
        vec![Input::of::<MachineConfigSpec>()]
    }

    fn outputs(&self) -> Vec<Output> {
        Vec::new()
    }

    async fn start(&mut self, waker: Waker) -> Result<(), ControllerError> {
        self.running.set_waker(waker);
        Ok(())
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let spec = ctx.get::<MachineConfigSpec>(MachineConfigSpec::ID)?;
        let wanted = wanted(spec.as_ref().map(|s| &s.spec));
        for (key, r) in self.running.take_unwanted(|k| wanted.contains_key(k)) {
            tracing::info!(destination = %key, "no longer sending to the destination");
            r.abort();
        }
        for (key, d) in &wanted {
            if let Some(old) = self.running.ensure(key, d.clone(), || ()) {
                old.abort();
            }
        }
        if let Some(after) = self.running.revive() {
            ctx.requeue_after(after);
        }
        Ok(())
    }

    async fn shutdown(&mut self, _ctx: &mut Ctx) -> Result<(), ControllerError> {
        for (_, r) in self.running.take_all() {
            r.abort();
        }
        Ok(())
    }
}
