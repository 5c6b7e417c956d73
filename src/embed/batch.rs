//! Queries that arrive together are embedded together.
//!
//! A transformer pass reads every weight of the model once whatever the number of texts in it,
//! so concurrent searches share passes: a caller runs a batch of whatever is queued while the
//! others wait; whoever finds a pass free and its query still queued runs the next one. Alone,
//! a query runs at once; there is no waiting for company. As many passes run at once as there
//! are cores, since each pass over a few queries runs on one thread (see `kernels.rs`).
//! Measured with scripts/bench-serve.sh (16 clients), with candle's products and one pass at a
//! time: 104–108 → 131–150 requests/s.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Texts per shared pass at most.
const MAX_BATCH: usize = 32;

type Outcome = Result<Vec<f32>, String>;

pub struct Batcher {
    state: Mutex<State>,
    done: Condvar,
    /// Passes that may run at once.
    passes: usize,
}

impl Default for Batcher {
    /// One pass at a time per core.
    fn default() -> Batcher {
        Batcher::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

#[derive(Default)]
struct State {
    next_id: u64,
    queue: Vec<(u64, String)>,
    results: HashMap<u64, Outcome>,
    running: usize,
}

/// Marks the batch as over even if the model panics, so that waiting callers are not stuck
/// behind a batch that will never finish: they find their query's error.
struct Running<'a> {
    batcher: &'a Batcher,
    /// The batch's queries other than the caller's own (which unwinds and reads nothing).
    others: Vec<u64>,
    finished: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !self.finished {
            let mut st = self.batcher.lock();
            st.finish(&self.others, Err("the model panicked on a query".into()));
            self.batcher.done.notify_all();
        }
    }
}

impl State {
    /// Hands out a batch's outcome: one vector per query, or the batch's error to each.
    fn finish(&mut self, ids: &[u64], outcome: Result<Vec<Vec<f32>>, String>) {
        match outcome {
            Ok(vectors) => {
                for (id, v) in ids.iter().zip(vectors) {
                    self.results.insert(*id, Ok(v));
                }
            }
            Err(e) => {
                for id in ids {
                    self.results.insert(*id, Err(e.clone()));
                }
            }
        }
        self.running -= 1;
    }
}

impl Batcher {
    /// A batcher that runs at most `passes` (at least one) at a time.
    pub fn new(passes: usize) -> Batcher {
        Batcher {
            state: Mutex::default(),
            done: Condvar::new(),
            passes: passes.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The vector of `text`, computed by `run` in a batch with whatever else is queued.
    /// `run` gets the texts and returns one vector per text, in order.
    pub fn embed<E: std::fmt::Display>(
        &self,
        text: &str,
        run: impl Fn(&[&str]) -> Result<Vec<Vec<f32>>, E>,
    ) -> Result<Vec<f32>, String> {
        let mut st = self.lock();
        let id = st.next_id;
        st.next_id += 1;
        st.queue.push((id, text.to_string()));
        loop {
            if let Some(outcome) = st.results.remove(&id) {
                return outcome;
            }
            // Wait while every pass is taken, or while this query is in one of them.
            if st.running >= self.passes || !st.queue.iter().any(|(i, _)| *i == id) {
                st = self.done.wait(st).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            st.running += 1;
            let take = st.queue.len().min(MAX_BATCH);
            let (ids, texts): (Vec<u64>, Vec<String>) = st.queue.drain(..take).unzip();
            drop(st);
            let mut guard = Running {
                batcher: self,
                others: ids.iter().copied().filter(|i| *i != id).collect(),
                finished: false,
            };
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let outcome = match run(&refs) {
                Ok(v) if v.len() == ids.len() => Ok(v),
                Ok(v) => Err(format!("{} vectors for {} texts", v.len(), ids.len())),
                Err(e) => Err(e.to_string()),
            };
            st = self.lock();
            st.finish(&ids, outcome);
            guard.finished = true;
            self.done.notify_all();
        }
    }

    #[cfg(test)]
    fn queued(&self) -> usize {
        self.lock().queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    fn vector_of(t: &str) -> Vec<f32> {
        vec![t.len() as f32, t.bytes().map(f32::from).sum()]
    }

    #[test]
    fn queries_waiting_behind_a_pass_share_the_next_one_and_each_gets_its_own_vector() {
        let batcher = Arc::new(Batcher::new(1));
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let first = Arc::new(AtomicBool::new(true));
        let others = 7;
        let run = {
            let (batcher, sizes, first) = (batcher.clone(), sizes.clone(), first.clone());
            move |texts: &[&str]| -> Result<Vec<Vec<f32>>, String> {
                // The first pass lasts until every other query has queued behind it.
                if first.swap(false, Ordering::SeqCst) {
                    let t = Instant::now();
                    while batcher.queued() < others && t.elapsed() < Duration::from_secs(10) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                sizes.lock().unwrap().push(texts.len());
                Ok(texts.iter().map(|t| vector_of(t)).collect())
            }
        };
        let run = Arc::new(run);
        let lead = {
            let (b, run) = (batcher.clone(), run.clone());
            std::thread::spawn(move || b.embed("the first query", |t| run(t)))
        };
        while first.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let rest: Vec<_> = (0..others)
            .map(|i| {
                let (b, run) = (batcher.clone(), run.clone());
                std::thread::spawn(move || (i, b.embed(&format!("query number {i}"), |t| run(t))))
            })
            .collect();
        assert_eq!(lead.join().unwrap().unwrap(), vector_of("the first query"));
        for h in rest {
            let (i, v) = h.join().unwrap();
            assert_eq!(v.unwrap(), vector_of(&format!("query number {i}")));
        }
        assert_eq!(*sizes.lock().unwrap(), vec![1, others]);
    }

    #[test]
    fn with_two_passes_a_query_does_not_wait_for_the_other_pass() {
        let batcher = Arc::new(Batcher::new(2));
        let started = Arc::new(AtomicBool::new(false));
        let second_ran = Arc::new(AtomicBool::new(false));
        let lead = {
            let (b, started, second_ran) = (batcher.clone(), started.clone(), second_ran.clone());
            std::thread::spawn(move || {
                b.embed("slow", |t| {
                    started.store(true, Ordering::SeqCst);
                    // This pass lasts until the second query has had its own (bounded).
                    let t0 = Instant::now();
                    while !second_ran.load(Ordering::SeqCst) {
                        if t0.elapsed() > Duration::from_secs(5) {
                            return Err("the second query waited for this pass".to_string());
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Ok(t.iter().map(|t| vector_of(t)).collect())
                })
            })
        };
        while !started.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let fast = batcher.embed("fast", |t| {
            second_ran.store(true, Ordering::SeqCst);
            Ok::<_, String>(t.iter().map(|t| vector_of(t)).collect())
        });
        assert_eq!(fast, Ok(vector_of("fast")));
        assert!(second_ran.load(Ordering::SeqCst));
        assert_eq!(lead.join().unwrap(), Ok(vector_of("slow")));
    }

    #[test]
    fn a_failing_or_panicking_model_fails_its_batch_and_the_next_query_still_runs() {
        let batcher = Batcher::default();
        let err = batcher.embed("a", |_| Err::<Vec<Vec<f32>>, _>("no memory"));
        assert_eq!(err, Err("no memory".to_string()));
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            batcher.embed("b", |_| -> Result<Vec<Vec<f32>>, String> { panic!("boom") })
        }));
        assert!(panicked.is_err());
        // Bounded, so that a batch left marked running fails the test instead of hanging it.
        let (tx, rx) = std::sync::mpsc::channel();
        let b = Arc::new(batcher);
        let b2 = b.clone();
        std::thread::spawn(move || {
            let _ = tx.send(b2.embed("c", |t| {
                Ok::<_, String>(t.iter().map(|t| vector_of(t)).collect())
            }));
        });
        let ok = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a query after a panicked batch is stuck");
        assert_eq!(ok, Ok(vector_of("c")));
    }
}
