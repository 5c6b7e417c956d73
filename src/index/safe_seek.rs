//! A query wrapper that shields tantivy's phrase scorer from `seek_danger` calls behind it.
//!
//! tantivy 0.27's `PhraseScorer::seek_danger` asserts `target >= doc()`, but an exclusion
//! (`MustNot`) calls it with the next candidate even after the phrase scorer has run past the
//! last match (doc = TERMINATED): `docker -"exact phrase"` panics in debug builds and is
//! unspecified in release. The wrapper's scorer keeps `DocSet`'s default `seek_danger`, which
//! handles a target behind the current doc, and forwards everything else.

use tantivy::query::{EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::{DocId, DocSet, Score, SegmentReader, Term};

/// Wraps `query` so its scorer never sees `seek_danger`.
pub fn safe_seek(query: Box<dyn Query>) -> Box<dyn Query> {
    Box::new(SafeSeek(query))
}

#[derive(Debug)]
struct SafeSeek(Box<dyn Query>);

impl Clone for SafeSeek {
    fn clone(&self) -> SafeSeek {
        SafeSeek(self.0.box_clone())
    }
}

impl Query for SafeSeek {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(SafeSeekWeight(self.0.weight(enable_scoring)?)))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.0.query_terms(visitor);
    }
}

struct SafeSeekWeight(Box<dyn Weight>);

impl Weight for SafeSeekWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(SafeSeekScorer(self.0.scorer(reader, boost)?)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.0.explain(reader, doc)
    }
}

struct SafeSeekScorer(Box<dyn Scorer>);

impl DocSet for SafeSeekScorer {
    fn advance(&mut self) -> DocId {
        self.0.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        // `seek` is only defined for targets at or after the current doc.
        if self.0.doc() >= target {
            return self.0.doc();
        }
        self.0.seek(target)
    }

    fn doc(&self) -> DocId {
        self.0.doc()
    }

    fn size_hint(&self) -> u32 {
        self.0.size_hint()
    }

    fn cost(&self) -> u64 {
        self.0.cost()
    }
}

impl Scorer for SafeSeekScorer {
    fn score(&mut self) -> Score {
        self.0.score()
    }
}
