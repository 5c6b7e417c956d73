//! Semantic and hybrid search: the query's free text embedded, notes ranked by their best
//! chunk, the query's operators applied as filters, and the two rankings fused by score.

use std::collections::{HashMap, HashSet};

use foldhash::fast::RandomState;

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

/// Candidates taken from each ranking before fusing: as many as a search may return, and the
/// same whatever it asks for, so that asking for fewer results gives the first of the same
/// ranking (the scores are standardised over the candidates, so their number matters).
const FUSE_DEPTH: usize = MAX_LIMIT;
/// Share of the semantic score in a hybrid score (the rest is the lexical one). Measured with
/// `scripts/eval.sh` and all-MiniLM-L6-v2 from 0.42 to 0.5: Cranfield 0.421–0.425, SciFact
/// 0.723–0.726, Obsidian questions 0.697–0.702 nDCG@10, the fixture ranking table held
/// throughout; at 0.5 none of the three is below what the earlier fusion gave.
pub(super) const SEMANTIC_WEIGHT: f32 = 0.5;
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
            FUSE_DEPTH
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
        let lexical = top_docs(&searcher, &plan, FUSE_DEPTH)?;
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
            FUSE_DEPTH,
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

/// Score fusion, each ranking's scores standardised over its candidates: mapped so that three
/// standard deviations below their mean is 0 and three above is 1 (a score past either stays
/// past it, so a title match far ahead of the rest keeps its lead), then summed with `weight`
/// for the semantic share ([`SEMANTIC_WEIGHT`] by default). Best first; ties keep lexical order.
///
/// A note missing from a ranking that was cut at `depth` candidates counts there as its last
/// candidate (no better, and never compared with the rest). A lexical ranking shorter than
/// that holds every match: it is filled up to `depth` with notes of BM25 score 0 before it is
/// standardised, and a note missing from it counts as one of those. So the only note holding
/// a rare word of the query stands out as it does by its words, in a vault of any size
/// (standardised over its few matches alone, it stood barely a deviation above them). A note
/// missing from a short semantic ranking has no vectors yet and gets nothing from it.
///
/// Why standardise: BM25 scores have no fixed scale, and similarities bunch in a narrow band
/// whose width depends on the query; the spread of each list says what a difference is worth.
/// Measured with scripts/eval.sh and all-MiniLM-L6-v2: see the CHANGELOG's Changed section.
pub(super) fn fuse_scores<K: Copy + Eq + std::hash::Hash>(
    lexical: &[(K, f32)],
    semantic: &[(K, f32)],
    weight: f32,
    depth: usize,
) -> Vec<(K, f32)> {
    // A lexical ranking shorter than `depth` holds every match: the notes that would fill it
    // to `depth` score 0 by their words, and are standardised as such with the rest, so that
    // the list is always `depth` long, like a ranking that was cut.
    let lexical_complete = lexical.len() < depth;
    let mut lex_scores: Vec<f32> = lexical.iter().map(|(_, s)| *s).collect();
    lex_scores.resize(depth.max(lexical.len()), 0.0);
    let lex = standardise(&lex_scores);
    let lex_missing = match lexical.last() {
        Some((_, s)) if !lexical_complete => lex(*s),
        _ => lex(0.0),
    };
    let sem_scores: Vec<f32> = semantic.iter().map(|(_, s)| *s).collect();
    let sem = standardise(&sem_scores);
    let sem_missing = match semantic.last() {
        Some((_, s)) if semantic.len() >= depth => sem(*s),
        _ => 0.0,
    };
    // foldhash: these maps are built for every hybrid search, and SipHash made them a
    // hundredth of its CPU.
    let lex_of: HashMap<K, f32, RandomState> = lexical.iter().map(|(k, s)| (*k, lex(*s))).collect();
    let sem_of: HashMap<K, f32, RandomState> =
        semantic.iter().map(|(k, s)| (*k, sem(*s))).collect();
    let mut seen: HashSet<K, RandomState> = HashSet::default();
    let mut out: Vec<(K, f32)> = Vec::new();
    for (k, _) in lexical.iter().chain(semantic) {
        if seen.insert(*k) {
            let l = lex_of.get(k).copied().unwrap_or(lex_missing);
            let s = sem_of.get(k).copied().unwrap_or(sem_missing);
            out.push((*k, (1.0 - weight) * l + weight * s));
        }
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

/// The map from a list's scores to `[0, 1]` by their mean ± three standard deviations. Scores
/// that are all equal map to 1 (each is as good as the best), and anything below them to 0.
fn standardise(scores: &[f32]) -> impl Fn(f32) -> f32 + use<> {
    let n = scores.len().max(1) as f64;
    let mean = scores.iter().map(|s| f64::from(*s)).sum::<f64>() / n;
    let var = scores
        .iter()
        .map(|s| (f64::from(*s) - mean).powi(2))
        .sum::<f64>()
        / n;
    let sd = var.sqrt();
    move |s: f32| {
        let s = f64::from(s);
        if sd <= f64::EPSILON * mean.abs().max(1.0) {
            if s >= mean { 1.0 } else { 0.0 }
        } else {
            ((s - (mean - 3.0 * sd)) / (6.0 * sd)) as f32
        }
    }
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
        let order: Vec<&str> = fuse_scores(&lexical, &semantic, SEMANTIC_WEIGHT, 4)
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
        let fused: Vec<&str> = fuse_scores(&lex, &[], SEMANTIC_WEIGHT, 2)
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        assert_eq!(fused, ["a", "b"]);
        // Mean 0.7, standard deviation 0.2: 0.1 maps to 0 and 1.3 to 1, so c is at 2/3 and d
        // at 1/3; neither matches by its words, so that share is the same for both.
        let sem = vec![("c", 0.9), ("d", 0.5)];
        let fused = fuse_scores(&[], &sem, SEMANTIC_WEIGHT, 2);
        assert_eq!((fused[0].0, fused[1].0), ("c", "d"));
        let gap = fused[0].1 - fused[1].1;
        assert!((gap - SEMANTIC_WEIGHT / 3.0).abs() < 1e-6, "{fused:?}");
    }

    /// The only note holding a rare word of the query (an error code) keeps first place
    /// against notes found by meaning alone, in a small vault too: standardised among the
    /// candidates of this small list alone, not filled to the depth, it lost (a variant tried
    /// while building this fusion; the fixture ranking table's "ERR_CONN_RESET" row caught
    /// another).
    #[test]
    fn the_only_note_with_a_rare_word_keeps_winning() {
        let lex = vec![("vector-search", 3.2)];
        // Its similarity is the lowest; the others stand far apart from each other.
        let sem = vec![("a", 0.95), ("b", 0.5), ("c", 0.45), ("vector-search", 0.1)];
        let fused = fuse_scores(&lex, &sem, SEMANTIC_WEIGHT, 100);
        assert_eq!(fused[0].0, "vector-search", "{fused:?}");
        // The others keep their semantic order.
        let rest: Vec<&str> = fused[1..].iter().map(|(k, _)| *k).collect();
        assert_eq!(rest, ["a", "b", "c"]);
    }

    #[test]
    fn a_ranking_cut_at_the_depth_bounds_the_notes_missing_from_it_by_its_last() {
        let lex = vec![("a", 5.0), ("b", 1.0)];
        let sem = vec![("c", 0.9), ("a", 0.5)];
        let fused: HashMap<&str, f32> = fuse_scores(&lex, &sem, 0.5, 2).into_iter().collect();
        // Lexical: mean 3, sd 2, so b is at 1/3; semantic: mean 0.7, sd 0.2, so a is at 1/3.
        assert!(
            (fused["c"] - 0.5 * (1.0 / 3.0 + 2.0 / 3.0)).abs() < 1e-6,
            "{fused:?}"
        );
        assert!(
            (fused["b"] - 0.5 * (1.0 / 3.0 + 1.0 / 3.0)).abs() < 1e-6,
            "{fused:?}"
        );
    }

    #[test]
    fn scores_are_standardised_over_their_list() {
        let map = |scores: &[f32], s: f32| standardise(scores)(s);
        // Mean 5, standard deviation 2: 3σ below is 0, the mean ½, 3σ above 1.
        let list = [3.0, 7.0, 3.0, 7.0];
        assert!((map(&list, -1.0)).abs() < 1e-6);
        assert!((map(&list, 5.0) - 0.5).abs() < 1e-6);
        assert!((map(&list, 11.0) - 1.0).abs() < 1e-6);
        // Past the range stays past it: a score far ahead keeps its lead.
        assert!((map(&list, 17.0) - 1.5).abs() < 1e-6);
        // Scale and shift do not matter, only the place in the list's spread.
        let moved = list.map(|s| 100.0 + 10.0 * s);
        assert!((map(&moved, 170.0) - map(&list, 7.0)).abs() < 1e-6);
        // No spread: every score is as good as the best, and a lower one worth nothing.
        assert_eq!(map(&[0.4, 0.4], 0.4), 1.0);
        assert_eq!(map(&[2.5], 2.5), 1.0);
        assert_eq!(map(&[2.5], 0.0), 0.0);
    }
}
