//! Queries that arrive together are embedded together.
//!
//! A transformer pass reads every weight of the model once however many texts it holds, so
//! concurrent searches share passes: a query that finds a pass free runs at once, alone; one
//! that finds every pass busy queues, and the pass that ends next hands itself to the queue,
//! whose first caller runs everything queued as one batch. Measured with
//! scripts/bench-serve.sh (16 clients, all-MiniLM-L6-v2): with candle's products, 104–108 →
//! 131–150 requests/s.
//!
//! One pass per core may run at once. With one at a time (a pass of a few queries runs on its
//! caller's thread alone) the other core idled whenever every search in flight waited for its
//! vector: 17–19% of the CPU idle against 7–13% with a pass per core, and 704–859 against
//! 783–853 requests/s over three side-by-side rounds (500 notes, 16 clients). Each caller
//! waits on its own condition variable, so the end of a pass wakes only its batch and the next
//! leader, not every waiting thread.

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// Texts per shared pass at most.
const MAX_BATCH: usize = 32;

type Outcome = Result<Vec<f32>, String>;

pub struct Batcher {
    state: Mutex<State>,
    /// Passes that may run at once: one per core by default.
    passes: usize,
}

#[derive(Default)]
struct State {
    /// Queries waiting for a pass. Only non-empty while `passes` passes are running.
    queue: VecDeque<Query>,
    running: usize,
}

/// A query and where its caller waits for its turn.
struct Query {
    text: String,
    slot: Arc<Slot>,
}

/// One caller's wakeups: each waiting query is woken once, for its vector or to run a pass,
/// never for another query's news (with one wakeup for all, every waiting thread woke at
/// the end of every pass to go back to sleep).
#[derive(Default)]
struct Slot {
    /// `None` while the caller waits.
    turn: Mutex<Option<Turn>>,
    changed: Condvar,
}

enum Turn {
    /// Run this batch; it starts with the woken caller's own query.
    Lead(Vec<Query>),
    Done(Outcome),
}

impl Slot {
    fn set(&self, turn: Turn) {
        *self.turn.lock().unwrap_or_else(PoisonError::into_inner) = Some(turn);
        self.changed.notify_one();
    }

    fn wait(&self) -> Turn {
        let mut turn = self.turn.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(t) = turn.take() {
                return t;
            }
            turn = self
                .changed
                .wait(turn)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// A running pass. Dropped, even when the model panics, it gives the batch's other queries
/// their error if they have nothing yet (so no caller waits for a pass that will never end),
/// then hands the pass on to the queue, or frees it.
struct Pass<'a> {
    batcher: &'a Batcher,
    batch: Vec<Query>,
    delivered: bool,
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        if !self.delivered {
            for q in self.batch.iter().skip(1) {
                q.slot
                    .set(Turn::Done(Err("the model panicked on a query".into())));
            }
        }
        let mut st = self.batcher.lock();
        if st.queue.is_empty() {
            st.running -= 1;
        } else {
            let take = st.queue.len().min(MAX_BATCH);
            let next: Vec<Query> = st.queue.drain(..take).collect();
            drop(st);
            let slot = next[0].slot.clone();
            slot.set(Turn::Lead(next));
        }
    }
}

impl Default for Batcher {
    /// One pass per core: a pass of a few queries runs on its caller's thread alone, so with
    /// one pass at a time the other cores idled whenever every search in flight was waiting
    /// for its query's vector.
    fn default() -> Batcher {
        Batcher::new(std::thread::available_parallelism().map_or(1, NonZeroUsize::get))
    }
}

impl Batcher {
    /// A batcher running at most `passes` passes at once (at least one).
    pub fn new(passes: usize) -> Batcher {
        Batcher {
            state: Mutex::default(),
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
        let slot = Arc::new(Slot::default());
        let query = Query {
            text: text.to_string(),
            slot: slot.clone(),
        };
        {
            let mut st = self.lock();
            if st.running < self.passes {
                // A pass free: the queue is empty (a pass ending hands itself to the queue
                // before it frees itself), so this query runs at once, alone.
                st.running += 1;
                drop(st);
                return self.lead(vec![query], &run);
            }
            st.queue.push_back(query);
        }
        match slot.wait() {
            Turn::Done(outcome) => outcome,
            Turn::Lead(batch) => self.lead(batch, &run),
        }
    }

    /// Runs `batch` (the caller's own query first), gives the others their vectors and
    /// returns the caller's.
    fn lead<E: std::fmt::Display>(
        &self,
        batch: Vec<Query>,
        run: &impl Fn(&[&str]) -> Result<Vec<Vec<f32>>, E>,
    ) -> Outcome {
        let mut pass = Pass {
            batcher: self,
            batch,
            delivered: false,
        };
        let texts: Vec<&str> = pass.batch.iter().map(|q| q.text.as_str()).collect();
        let outcome = match run(&texts) {
            Ok(v) if v.len() == texts.len() => Ok(v),
            Ok(v) => Err(format!("{} vectors for {} texts", v.len(), texts.len())),
            Err(e) => Err(e.to_string()),
        };
        let own = match outcome {
            Ok(vectors) => {
                let mut vectors = vectors.into_iter();
                let own = vectors.next().unwrap_or_default();
                for (q, v) in pass.batch.iter().skip(1).zip(vectors) {
                    q.slot.set(Turn::Done(Ok(v)));
                }
                Ok(own)
            }
            Err(e) => {
                for q in pass.batch.iter().skip(1) {
                    q.slot.set(Turn::Done(Err(e.clone())));
                }
                Err(e)
            }
        };
        pass.delivered = true;
        own
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
    fn a_failing_or_panicking_model_fails_its_batch_and_the_next_query_still_runs() {
        let batcher = Batcher::new(1);
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

    /// With two passes allowed, a query arriving while a pass runs gets a pass of its own
    /// beside it; the first pass here lasts until another one has finished, so one pass at a
    /// time would make the second query wait and the first see no other pass (bounded, so a
    /// regression fails instead of hanging).
    #[test]
    fn with_a_pass_per_core_a_query_arriving_during_a_pass_runs_beside_it() {
        let batcher = Arc::new(Batcher::new(2));
        let finished = Arc::new(Mutex::new(Vec::<String>::new()));
        let run = {
            let finished = finished.clone();
            move |texts: &[&str]| -> Result<Vec<Vec<f32>>, String> {
                if texts == ["slow"] {
                    let t = Instant::now();
                    while finished.lock().unwrap().is_empty()
                        && t.elapsed() < Duration::from_secs(10)
                    {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                finished
                    .lock()
                    .unwrap()
                    .extend(texts.iter().map(|t| t.to_string()));
                Ok(texts.iter().map(|t| vector_of(t)).collect())
            }
        };
        let run = Arc::new(run);
        let slow = {
            let (b, run) = (batcher.clone(), run.clone());
            std::thread::spawn(move || b.embed("slow", |t| run(t)))
        };
        // The slow pass is running once its query is no longer anyone's to take.
        let t = Instant::now();
        while batcher.lock().running == 0 && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(batcher.embed("quick", |t| run(t)), Ok(vector_of("quick")));
        assert_eq!(slow.join().unwrap(), Ok(vector_of("slow")));
        assert_eq!(*finished.lock().unwrap(), ["quick", "slow"]);
    }

    /// A caller woken to run the next pass runs the queries queued behind it too, and each
    /// gets its own vector, whatever order the passes end in.
    #[test]
    fn many_callers_on_few_passes_each_get_their_own_vector() {
        let batcher = Arc::new(Batcher::new(2));
        let callers: Vec<_> = (0..24)
            .map(|i| {
                let b = batcher.clone();
                std::thread::spawn(move || {
                    let text = format!("query {i}");
                    let got = b.embed(&text, |t| {
                        std::thread::sleep(Duration::from_millis(2));
                        Ok::<_, String>(t.iter().map(|t| vector_of(t)).collect())
                    });
                    (text, got)
                })
            })
            .collect();
        for c in callers {
            let (text, got) = c.join().unwrap();
            assert_eq!(got, Ok(vector_of(&text)));
        }
        let st = batcher.lock();
        assert_eq!((st.running, st.queue.len()), (0, 0));
    }
}
