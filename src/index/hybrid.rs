//! Semantic and hybrid search: the query's free text embedded, notes ranked by their best
//! chunk, the query's operators applied as filters, and the two rankings fused by score.

use std::collections::{HashMap, HashSet};

use tantivy::collector::DocSetCollector;
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query};
use tantivy::{DocAddress, Searcher, TantivyDocument};

use super::query::{ParsedQuery, parse_query};
use super::search::{Hit, MAX_LIMIT, Plan, clause_query, plan, top_docs};
use super::stored;
use super::vectors::VectorHit;
use super::{IndexError, NoteIndex};

/// How a search ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchMode {
    /// BM25 over the words (with the operators).
    Lexical,
    /// Similarity of the query's meaning to each note's best chunk (operators filter).
    Semantic,
    /// Both, fused; the default when a model is present.
    Hybrid,
}

impl std::str::FromStr for SearchMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "lexical" => Ok(SearchMode::Lexical),
            "semantic" => Ok(SearchMode::Semantic),
            "hybrid" => Ok(SearchMode::Hybrid),
            other => Err(format!(
                "unknown search mode {other:?} (lexical, semantic or hybrid)"
            )),
        }
    }
}

/// Candidates taken from each ranking before fusing.
const FUSE_DEPTH: usize = 50;
/// Share of the semantic score in a hybrid score (the rest is the lexical one). Below one
/// half, so a note matching the query's words in its title keeps its place. (Measured with
/// `scripts/eval.sh`: 0.3 suits Cranfield, 0.6 the Obsidian questions; 0.4 loses least on
/// any of the three collections.)
pub(super) const SEMANTIC_WEIGHT: f32 = 0.4;
/// Notes listed as related to a note.
pub const RELATED: usize = 5;

/// A note similar to another.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Related {
    pub id: String,
    pub title: String,
}

impl NoteIndex {
    /// Whether semantic search can run: a model is set and some note has its vectors.
    pub fn has_vectors(&self) -> bool {
        self.model().is_some()
            && !self
                .inner
                .vectors
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .is_empty()
    }

    /// The mode a search runs in when none is asked for.
    pub fn default_mode(&self) -> SearchMode {
        if self.model().is_some() {
            SearchMode::Hybrid
        } else {
            SearchMode::Lexical
        }
    }

    /// Searches in `mode`. Without a model (or before any vectors exist) every mode is lexical;
    /// a query of operators only has no meaning to embed and is lexical too.
    pub fn search_mode(
        &self,
        query: &str,
        limit: usize,
        mode: SearchMode,
    ) -> Result<Vec<Hit>, IndexError> {
        let limit = limit.clamp(1, MAX_LIMIT);
        let parsed = parse_query(query);
        // What the query means: its free words and its phrases.
        let mut pieces: Vec<&str> = parsed.text.iter().map(String::as_str).collect();
        pieces.extend(parsed.must.iter().filter_map(|c| match c {
            super::query::Clause::Phrase(p) => Some(p.as_str()),
            _ => None,
        }));
        let text = pieces.join(" ");
        if mode == SearchMode::Lexical || text.trim().is_empty() || !self.has_vectors() {
            return self.search(query, limit);
        }
        let Some(model) = self.model() else {
            return self.search(query, limit);
        };
        let qv = match model.embed_one(&text) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("query not embedded, searching by words only: {e}");
                return self.search(query, limit);
            }
        };
        let searcher = self.inner.reader.searcher();
        let allowed = self.filter_set(&searcher, &parsed)?;
        let keep = |addr: DocAddress| allowed.as_ref().is_none_or(|s| s.contains(&addr));
        let depth = if mode == SearchMode::Semantic {
            limit
        } else {
            FUSE_DEPTH.max(limit)
        };
        let semantic = self
            .inner
            .vectors
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .search(&searcher, &qv, depth, &keep);
        if mode == SearchMode::Semantic {
            return semantic
                .iter()
                .map(|h| self.semantic_hit(&searcher, h, h.score))
                .collect();
        }
        let Some(plan) = plan(&searcher, self.fields(), query)? else {
            return Ok(Vec::new());
        };
        let lexical = top_docs(&searcher, &plan, FUSE_DEPTH.max(limit))?;
        self.fuse(&searcher, &plan, lexical, &semantic, limit)
    }

    /// Documents passing the query's operators (`None`: the query has none).
    fn filter_set(
        &self,
        searcher: &Searcher,
        parsed: &ParsedQuery,
    ) -> Result<Option<HashSet<DocAddress>>, IndexError> {
        if parsed.must.is_empty() && parsed.must_not.is_empty() {
            return Ok(None);
        }
        let f = self.fields();
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for c in &parsed.must {
            if let Some(q) = clause_query(f, c) {
                clauses.push((Occur::Must, q));
            }
        }
        for c in &parsed.must_not {
            if let Some(q) = clause_query(f, c) {
                clauses.push((Occur::MustNot, q));
            }
        }
        if !clauses.iter().any(|(o, _)| *o == Occur::Must) {
            // Only exclusions: every note, minus them.
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        let docs = searcher.search(&BooleanQuery::new(clauses), &DocSetCollector)?;
        Ok(Some(docs))
    }

    /// Fuses by [`fuse_scores`]; hits keep their lexical snippet unless it shows no query word.
    fn fuse(
        &self,
        searcher: &Searcher,
        plan: &Plan,
        lexical: Vec<(f32, DocAddress)>,
        semantic: &[VectorHit],
        limit: usize,
    ) -> Result<Vec<Hit>, IndexError> {
        let lex: Vec<(DocAddress, f32)> = lexical.iter().map(|(s, a)| (*a, *s)).collect();
        let sem: Vec<(DocAddress, f32)> = semantic.iter().map(|h| (h.addr, h.score)).collect();
        let lexical: HashSet<DocAddress> = lexical.into_iter().map(|(_, a)| a).collect();
        let by_addr: HashMap<DocAddress, &VectorHit> =
            semantic.iter().map(|h| (h.addr, h)).collect();
        let fused: Vec<(DocAddress, f32)> = fuse_scores(
            &lex,
            &sem,
            super::ranking::Ranking::current().semantic_weight,
        )
        .into_iter()
        .take(limit)
        .collect();
        // Snippets for the lexical hits in one go (one snippet generator for the query).
        let lexical_top: Vec<(f32, DocAddress)> = fused
            .iter()
            .filter(|(a, _)| lexical.contains(a))
            .map(|(a, s)| (*s, *a))
            .collect();
        let mut lexical_hits = self.hits(searcher, plan, lexical_top)?.into_iter();
        let mut out = Vec::with_capacity(fused.len());
        for (addr, score) in fused {
            let chunk = by_addr.get(&addr).copied();
            if !lexical.contains(&addr) {
                if let Some(h) = chunk {
                    out.push(self.semantic_hit(searcher, h, score)?);
                }
                continue;
            }
            let Some(mut hit) = lexical_hits.next() else {
                continue;
            };
            // No query word in the snippet: the best chunk says more.
            if !hit.snippet.contains("**")
                && let Some(h) = chunk
            {
                let c = self.semantic_hit(searcher, h, score)?;
                hit.snippet = c.snippet;
                hit.heading = c.heading.or(hit.heading);
            }
            out.push(hit);
        }
        Ok(out)
    }

    /// A hit for a note found by meaning: its best chunk's heading and text.
    fn semantic_hit(
        &self,
        searcher: &Searcher,
        h: &VectorHit,
        score: f32,
    ) -> Result<Hit, IndexError> {
        let f = self.fields();
        let doc: TantivyDocument = searcher.doc(h.addr)?;
        let id = stored::text(&doc, f.id).unwrap_or_default();
        let chunks: Vec<(Option<String>, String)> = stored::text(&doc, f.chunks_json)
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default();
        let (heading, text) = chunks.get(h.chunk).cloned().unwrap_or_default();
        let snippet = if text.is_empty() {
            stored::text(&doc, f.body)
                .unwrap_or_default()
                .split_whitespace()
                .take(40)
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            text
        };
        Ok(Hit::of(
            &doc,
            f,
            self.vault().name(),
            id,
            score,
            snippet,
            heading,
        ))
    }

    /// Up to [`RELATED`] notes most similar to the note at `addr` (empty without a model).
    pub(super) fn related_to(
        &self,
        searcher: &Searcher,
        addr: DocAddress,
    ) -> Result<Vec<Related>, IndexError> {
        if self.model().is_none() {
            return Ok(Vec::new());
        }
        let cache = self
            .inner
            .vectors
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let chunks = cache.vectors_of(searcher, addr);
        let Some(dim) = chunks.first().map(Vec::len) else {
            return Ok(Vec::new());
        };
        // The note's centre: what it is about as a whole.
        let mut centre = vec![0f32; dim];
        for c in &chunks {
            for (a, b) in centre.iter_mut().zip(c) {
                *a += b;
            }
        }
        crate::embed::normalize(&mut centre);
        let hits = cache.search(searcher, &centre, RELATED + 1, &|a| a != addr);
        drop(cache);
        let f = self.fields();
        hits.iter()
            .take(RELATED)
            .map(|h| {
                let doc: TantivyDocument = searcher.doc(h.addr)?;
                let id = stored::text(&doc, f.id).unwrap_or_default();
                Ok(Related {
                    title: stored::text(&doc, f.title).unwrap_or_else(|| id.clone()),
                    id,
                })
            })
            .collect()
    }
}

/// Score fusion: lexical scores divided by the best one, similarities min-max scaled over the
/// candidates, summed with `weight` (the semantic share, [`SEMANTIC_WEIGHT`] by default);
/// best first (ties keep lexical order).
pub(super) fn fuse_scores<K: Copy + Eq + std::hash::Hash>(
    lexical: &[(K, f32)],
    semantic: &[(K, f32)],
    weight: f32,
) -> Vec<(K, f32)> {
    let lex_max = lexical
        .iter()
        .map(|(_, s)| *s)
        .fold(0f32, f32::max)
        .max(f32::MIN_POSITIVE);
    let (lo, hi) = semantic
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), (_, s)| {
            (lo.min(*s), hi.max(*s))
        });
    let sem_norm = |s: f32| if hi > lo { (s - lo) / (hi - lo) } else { 1.0 };
    let sem: HashMap<K, f32> = semantic.iter().map(|(k, s)| (*k, sem_norm(*s))).collect();
    let mut seen = HashSet::new();
    let mut out: Vec<(K, f32)> = Vec::new();
    for (k, s) in lexical {
        if seen.insert(*k) {
            let score = (1.0 - weight) * s / lex_max + weight * sem.get(k).copied().unwrap_or(0.0);
            out.push((*k, score));
        }
    }
    for (k, s) in semantic {
        if seen.insert(*k) {
            out.push((*k, weight * sem_norm(*s)));
        }
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::{dot, normalize};

    fn unit(v: &[f32]) -> Vec<f32> {
        let mut v = v.to_vec();
        normalize(&mut v);
        v
    }

    /// Hand-made vectors: a query about "backups", a note titled with the query's word that
    /// is about something else, one about backups in other words, one matching both.
    #[test]
    fn title_matches_keep_winning_and_meaning_lifts_the_rest() {
        let query = unit(&[1.0, 0.0, 0.1]);
        let notes = [
            ("title-match.md", unit(&[0.1, 1.0, 0.0]), Some(10.0)),
            ("meaning-only.md", unit(&[1.0, 0.05, 0.1]), None),
            ("both-weak.md", unit(&[0.9, 0.3, 0.0]), Some(2.0)),
            ("words-only-tail.md", unit(&[0.0, 0.2, 1.0]), Some(1.0)),
        ];
        let lexical: Vec<(&str, f32)> = notes
            .iter()
            .filter_map(|(id, _, l)| l.map(|s| (*id, s)))
            .collect();
        let mut semantic: Vec<(&str, f32)> = notes
            .iter()
            .map(|(id, v, _)| (*id, dot(&query, v)))
            .collect();
        semantic.sort_by(|a, b| b.1.total_cmp(&a.1));
        let order: Vec<&str> = fuse_scores(&lexical, &semantic, SEMANTIC_WEIGHT)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(
            order,
            [
                "title-match.md",
                "both-weak.md",
                "meaning-only.md",
                "words-only-tail.md"
            ]
        );
    }

    #[test]
    fn each_ranking_alone_keeps_its_order() {
        let lex = vec![("a", 3.0), ("b", 2.0)];
        let fused: Vec<&str> = fuse_scores(&lex, &[], SEMANTIC_WEIGHT)
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        assert_eq!(fused, ["a", "b"]);
        let sem = vec![("c", 0.9), ("d", 0.5)];
        let fused = fuse_scores(&[], &sem, SEMANTIC_WEIGHT);
        assert_eq!(fused[0], ("c", SEMANTIC_WEIGHT));
        assert_eq!(fused[1], ("d", 0.0));
    }
}
