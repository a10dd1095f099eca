//! A controller harness for tests (COSI's `rtestutils`, Talos's `ctest`):
//! an engine on a fresh state with the controllers under test, inputs put
//! as their real owner would, and assertions that poll the state until they
//! hold or a deadline passes (the deadline is tokio's clock: a test with
//! paused time runs it in no time).
//!
//! ```ignore
//! let h = Harness::new().with(MyController).start();
//! h.put("eth0", &LinkSpec { .. });
//! h.assert_eventually::<LinkStatus>("eth0", |s| s.up).await;
//! h.shutdown().await;
//! ```

use super::{Controller, Engine, Running};
use machined_resources::{ResourceSpec, State};
use std::time::Duration;

/// The owner of what a test puts.
pub const TEST_OWNER: &str = "test";

/// How long an assertion polls before it fails.
const DEADLINE: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(5);

pub struct Harness {
    state: State,
    engine: Option<Engine>,
    running: Option<Running>,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    pub fn new() -> Self {
        Self::on(State::new())
    }

    /// On a state the test already filled.
    pub fn on(state: State) -> Self {
        Harness {
            engine: Some(Engine::new(state.clone())),
            state,
            running: None,
        }
    }

    /// Registers a controller (before `start`).
    pub fn with(mut self, c: impl Controller) -> Self {
        let e = self
            .engine
            .as_mut()
            .expect("controllers are added before start");
        e.register(c).expect("the controller registers");
        self
    }

    pub fn start(mut self) -> Self {
        let e = self.engine.take().expect("started once");
        self.running = Some(e.start());
        self
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// Puts `spec` as [`TEST_OWNER`].
    pub fn put<T: ResourceSpec>(&self, id: &str, spec: &T) -> &Self {
        self.state.put(TEST_OWNER, id, spec).expect("put");
        self
    }

    /// Destroys what the test put.
    pub fn destroy<T: ResourceSpec>(&self, id: &str) -> &Self {
        self.state
            .destroy_typed::<T>(id, TEST_OWNER)
            .expect("destroy");
        self
    }

    /// The resource `id` of type `T`, if there.
    pub fn get<T: ResourceSpec>(&self, id: &str) -> Option<T> {
        self.state.get_typed::<T>(id).ok().flatten().map(|t| t.spec)
    }

    /// Polls `f` until it gives something; fails naming `what`.
    pub async fn eventually<R>(&self, what: &str, mut f: impl FnMut(&Self) -> Option<R>) -> R {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            if let Some(r) = f(self) {
                return r;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Polls a condition outside the state (a fake kernel, say).
    pub async fn until(&self, what: &str, mut ok: impl FnMut() -> bool) {
        self.eventually(what, |_| ok().then_some(())).await
    }

    /// Waits until resource `id` of type `T` exists and passes `ok`.
    pub async fn assert_eventually<T: ResourceSpec>(&self, id: &str, ok: impl Fn(&T) -> bool) -> T {
        let what = format!("{} {id} to pass", T::TYPE);
        self.eventually(&what, |h| h.get::<T>(id).filter(|t| ok(t)))
            .await
    }

    /// Waits until resource `id` of type `T` is gone.
    pub async fn assert_gone<T: ResourceSpec>(&self, id: &str) {
        let what = format!("{} {id} to go", T::TYPE);
        self.eventually(&what, |h| h.get::<T>(id).is_none().then_some(()))
            .await
    }

    /// Stops the controllers (each runs its shutdown hook).
    pub async fn shutdown(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}
