//! Queries that arrive together are embedded together.
//!
//! A transformer pass reads every weight of the model once however many texts it holds, so
//! concurrent searches share passes: the first caller runs a batch of whatever is queued while
//! the others wait; whoever finds no batch running and its query still queued runs the next
//! one. Alone, a query runs at once; there is no waiting for company. Measured with
//! scripts/bench-serve.sh (16 clients, all-MiniLM-L6-v2): with candle's products, 104–108 →
//! 131–150 requests/s. Letting one pass per core run at once gained nothing once passes were
//! our own (340 against 342 requests/s, a worse p99): the CPU is the limit either way.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Texts per shared pass at most.
const MAX_BATCH: usize = 32;

type Outcome = Result<Vec<f32>, String>;

#[derive(Default)]
pub struct Batcher {
    state: Mutex<State>,
    done: Condvar,
}

#[derive(Default)]
struct State {
    next_id: u64,
    queue: Vec<(u64, String)>,
    results: HashMap<u64, Outcome>,
    running: bool,
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
        self.running = false;
    }
}

impl Batcher {
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
            if st.running {
                st = self.done.wait(st).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            st.running = true;
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
        let batcher = Arc::new(Batcher::default());
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
