use super::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// A set whose runners count their starts in their handle and panic on
/// the starts `panics` names.
fn set(panics: &'static [u32]) -> Runners<String, u32, Arc<AtomicU32>> {
    Runners::new(
        "test",
        Box::new(move |_k, _c, h: &Arc<AtomicU32>, attempt| {
            let h = h.clone();
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                if panics.contains(&attempt) {
                    panic!("injected at start {attempt}");
                }
                std::future::pending::<()>().await
            }
            .boxed()
        }),
    )
}

async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicked_runner_starts_again_with_backoff_and_keeps_its_handle() {
    let mut r = set(&[0, 1]);
    let starts = Arc::new(AtomicU32::new(0));
    let h = starts.clone();
    assert!(r.ensure(&"a".to_string(), 1, move || h).is_none());
    settle().await;
    assert_eq!(starts.load(Ordering::SeqCst), 1);
    // Ended: seen, and due again after the first backoff.
    assert_eq!(r.revive(), Some(FIRST_BACKOFF));
    tokio::time::advance(FIRST_BACKOFF).await;
    assert_eq!(r.revive(), None);
    settle().await;
    assert_eq!(
        starts.load(Ordering::SeqCst),
        2,
        "started again, same handle"
    );
    // It panicked again: the backoff doubled.
    assert_eq!(r.revive(), Some(2 * FIRST_BACKOFF));
    tokio::time::advance(2 * FIRST_BACKOFF).await;
    r.revive();
    settle().await;
    assert_eq!(starts.load(Ordering::SeqCst), 3);
    // The third start runs on.
    assert_eq!(r.revive(), None);
    let slot = r.get(&"a".to_string()).unwrap();
    assert!(!slot.is_finished());
    assert_eq!(slot.restarts(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_same_config_keeps_a_runner_another_replaces_it() {
    let mut r = set(&[]);
    let k = "a".to_string();
    assert!(r.ensure(&k, 1, Arc::default).is_none());
    assert!(r.ensure(&k, 1, || panic!("not made again")).is_none());
    let old = r.ensure(&k, 2, Arc::default).expect("the old runner");
    assert_eq!(old.config, 1);
    assert!(
        !old.is_finished(),
        "returned still running, for the caller to stop"
    );
    old.abort();
    assert_eq!(r.get(&k).unwrap().config, 2);
    r.ensure(&"b".to_string(), 1, Arc::default);
    let gone = r.take_unwanted(|k| k == "b");
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].0, "a");
    assert!(r.contains(&"b".to_string()) && !r.contains(&k));
    let (_, slot) = gone.into_iter().next().unwrap();
    assert!(!slot.join(Duration::from_millis(10)).await, "still running");
}
