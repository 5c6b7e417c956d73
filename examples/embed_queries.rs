//! Times the embedding of search queries, the part of a hybrid search the model costs: each
//! query alone (as an idle server runs it) and sixteen at once (as a shared pass under load).
//!
//! `cargo run --release --example embed_queries -- MODEL_DIR [ROUNDS]`
//! Prints p10 / p50 / p90 in milliseconds per query alone and per pass of sixteen.

use std::time::Instant;

use vaultmcp::embed::Embedder;

/// The free text of scripts/bench-serve.sh's queries, as hybrid search embeds it.
const QUERIES: &[&str] = &[
    "index",
    "cache latency",
    "token refresh",
    "query parser",
    "schema migration",
    "distributed cache",
    "replica shard",
    "session",
    "scheduler worker queue",
    "tokenizr",
    "latncy percentile",
    "benchmark throughput",
    "backlink graph",
    "consent redirect callback",
    "lock mutex",
    "snapshot checkpoint transaction",
    "gateway proxy balancer",
    "stream channel",
    "plugin extension module",
    "version release branch",
    "histogram sample",
    "leader follower partition",
    "certificate signature issuer",
    "cache",
    "deployment container image",
    "kubernetes",
    "vault note folder",
    "how do I keep a folder out of my search results",
];

fn percentiles(mut ms: Vec<f64>) -> String {
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    format!(
        "p10 {:.2}  p50 {:.2}  p90 {:.2} ms",
        at(0.1),
        at(0.5),
        at(0.9)
    )
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: embed_queries MODEL_DIR [ROUNDS]"))?;
    let rounds: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(10);
    let model = Embedder::load(dir.as_ref())?;
    model.embed(QUERIES)?; // warm up: pages in the weights
    let mut alone = Vec::new();
    for _ in 0..rounds {
        for q in QUERIES {
            let t = Instant::now();
            model.embed(&[q])?;
            alone.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let mut sixteen = Vec::new();
    for r in 0..rounds * 2 {
        let batch: Vec<&str> = (0..16)
            .map(|i| QUERIES[(r * 16 + i) % QUERIES.len()])
            .collect();
        let t = Instant::now();
        model.embed(&batch)?;
        sixteen.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "{}: one query alone    {}",
        model.name(),
        percentiles(alone)
    );
    println!(
        "{}: 16 queries at once {}",
        model.name(),
        percentiles(sixteen)
    );
    Ok(())
}
