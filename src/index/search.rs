//! Ranked search: the query language planned into a tantivy query, then hits collected with
//! their snippets (`snippet.rs`).

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use tantivy::collector::TopDocs;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, DisjunctionMaxQuery, FuzzyTermQuery,
    Occur, PhraseQuery, Query, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, Order, Searcher, TantivyDocument, Term};

use super::query::{Clause, parse_query};
use super::ranking::Ranking;
use super::safe_seek::safe_seek;
use super::schema::{self, Fields};
use super::snippet::Snippets;
use super::stored;
use super::{IndexError, NoteIndex};
use crate::vault::obsidian_url;

/// The most hits one search returns.
pub const MAX_LIMIT: usize = 100;

/// The `{"results": [...]}` object of `search --json`.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResults {
    pub results: Vec<Hit>,
}

/// One search result.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub id: String,
    pub title: String,
    pub url: String,
    pub path: String,
    pub score: f32,
    /// Text around the best match, matched words in `**bold**`.
    pub snippet: String,
    pub tags: Vec<String>,
    /// The heading of the section the snippet comes from.
    pub heading: Option<String>,
}

impl Hit {
    /// The hit for a stored note document, with its snippet already made.
    pub(super) fn of(
        doc: &TantivyDocument,
        f: &Fields,
        vault_name: &str,
        id: String,
        score: f32,
        snippet: String,
        heading: Option<String>,
    ) -> Hit {
        Hit {
            title: stored::text(doc, f.title).unwrap_or_else(|| id.clone()),
            url: obsidian_url(vault_name, &id),
            path: id.clone(),
            id,
            score,
            snippet,
            tags: stored::texts(doc, f.tag_raw),
            heading,
        }
    }
}

impl NoteIndex {
    /// Searches the vault. Any text is a valid query; an empty one finds nothing.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Hit>, IndexError> {
        let limit = limit.clamp(1, MAX_LIMIT);
        let searcher = self.inner.reader.searcher();
        match plan(&searcher, self.fields(), query)? {
            Some(plan) => self.collect(&searcher, &plan, limit),
            None => Ok(Vec::new()),
        }
    }

    /// Runs a planned query and turns its best `limit` documents into hits with snippets.
    fn collect(
        &self,
        searcher: &Searcher,
        plan: &Plan,
        limit: usize,
    ) -> Result<Vec<Hit>, IndexError> {
        let top = top_docs(searcher, plan, limit)?;
        self.hits(searcher, plan, top)
    }

    /// Hits with snippets for documents a plan found.
    pub(super) fn hits(
        &self,
        searcher: &Searcher,
        plan: &Plan,
        top: Vec<(f32, DocAddress)>,
    ) -> Result<Vec<Hit>, IndexError> {
        let f = self.fields();
        let snippets = Snippets::new(
            searcher,
            &plan.query,
            f.body,
            &plan.words,
            &plan.snippet_stems,
        )?;
        let vault_name = self.vault().name();
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let id = stored::text(&doc, f.id).unwrap_or_default();
            let body = stored::text(&doc, f.body).unwrap_or_default();
            let (snippet, heading) = snippets.make(&body, &stored::headings(&doc, f));
            hits.push(Hit::of(&doc, f, vault_name, id, score, snippet, heading));
        }
        Ok(hits)
    }
}

/// The best `limit` documents of a planned query, with their scores.
pub(super) fn top_docs(
    searcher: &Searcher,
    plan: &Plan,
    limit: usize,
) -> Result<Vec<(f32, DocAddress)>, IndexError> {
    Ok(if plan.ranked {
        searcher.search(&plan.query, &TopDocs::with_limit(limit).order_by_score())?
    } else {
        // Only filters: newest first.
        let by_date: Vec<(Option<tantivy::DateTime>, DocAddress)> = searcher.search(
            &plan.query,
            &TopDocs::with_limit(limit).order_by_fast_field("modified", Order::Desc),
        )?;
        by_date.into_iter().map(|(_, addr)| (0.0, addr)).collect()
    })
}

/// Clauses of a boolean query.
type Clauses = Vec<(Occur, Box<dyn Query>)>;

/// A query ready to run, with what collecting its hits needs.
pub(super) struct Plan {
    query: BooleanQuery,
    /// Whether hits are ordered by score (there are words or phrases to look for) rather than
    /// newest first (only filters).
    ranked: bool,
    /// The query's distinct words, analysed, in order.
    words: Vec<String>,
    /// What a snippet's window is placed on: the words and the words of required phrases.
    snippet_stems: Vec<String>,
}

/// Turns the query text into a tantivy query; `None` when it can match nothing.
pub(super) fn plan(
    searcher: &Searcher,
    f: &Fields,
    query: &str,
) -> Result<Option<Plan>, IndexError> {
    let parsed = parse_query(query);
    if parsed.is_empty() && parsed.must_not.is_empty() {
        return Ok(None);
    }
    // Query words in order: neighbours in the query are looked for near each other in notes.
    let sequence: Vec<String> = parsed
        .text
        .iter()
        .flat_map(|t| schema::tokens(t))
        .map(|(_, t)| t)
        .collect();
    let (words, mut clauses) = word_clauses(searcher, f, &sequence)?;
    clauses.extend(proximity_clauses(f, &sequence));
    let ranked = !words.is_empty() || parsed.must.iter().any(|c| matches!(c, Clause::Phrase(_)));
    // A clause without words to look for (a phrase of stop words only, say) cannot match
    // anything specific: it is left out.
    clauses.extend(
        parsed
            .must
            .iter()
            .filter_map(|c| clause_query(f, c))
            .map(|q| (Occur::Must, q)),
    );
    let positive = clauses.iter().any(|(o, _)| *o != Occur::MustNot);
    clauses.extend(
        parsed
            .must_not
            .iter()
            .filter_map(|c| clause_query(f, c))
            .map(|q| (Occur::MustNot, q)),
    );
    if !positive {
        if parsed.must_not.is_empty() {
            return Ok(None);
        }
        clauses.push((Occur::Must, Box::new(AllQuery)));
    }
    let query = if ranked && words.len() >= Ranking::current().feedback_min_words {
        expand(searcher, f, clauses, &words)?
    } else {
        BooleanQuery::new(clauses)
    };
    let mut snippet_stems = words.clone();
    for c in &parsed.must {
        if let Clause::Phrase(p) = c {
            snippet_stems.extend(schema::tokens(p).into_iter().map(|(_, t)| t));
        }
    }
    Ok(Some(Plan {
        query,
        ranked,
        words,
        snippet_stems,
    }))
}

/// The query's distinct words and one clause for each; a word the query repeats weighs more
/// (as in BM25's query term frequency).
fn word_clauses(
    searcher: &Searcher,
    f: &Fields,
    sequence: &[String],
) -> Result<(Vec<String>, Clauses), IndexError> {
    let mut words: Vec<String> = Vec::new();
    let mut counts: HashMap<&str, f32> = HashMap::new();
    for t in sequence {
        let c = counts.entry(t.as_str()).or_default();
        if *c == 0.0 {
            words.push(t.clone());
        }
        *c += 1.0;
    }
    let r = Ranking::current();
    let mut clauses: Clauses = Vec::with_capacity(words.len());
    for w in &words {
        let q = word_query(searcher, f, w)?;
        let n = counts.get(w.as_str()).copied().unwrap_or(1.0);
        let q: Box<dyn Query> = if n > 1.0 {
            Box::new(BoostQuery::new(q, 1.0 + r.repeat * (n - 1.0)))
        } else {
            q
        };
        clauses.push((Occur::Should, q));
    }
    Ok((words, clauses))
}

/// A bonus for each pair of neighbouring query words found near each other, in order.
fn proximity_clauses(f: &Fields, sequence: &[String]) -> Clauses {
    let r = Ranking::current();
    let mut seen = HashSet::new();
    sequence
        .windows(2)
        .filter(|p| p[0] != p[1] && seen.insert((p[0].clone(), p[1].clone())))
        .map(|pair| {
            let terms = vec![
                (0, Term::from_field_text(f.body, &pair[0])),
                (1, Term::from_field_text(f.body, &pair[1])),
            ];
            let phrase = PhraseQuery::new_with_offset_and_slop(terms, r.proximity_slop);
            let q: Box<dyn Query> =
                Box::new(BoostQuery::new(safe_seek(Box::new(phrase)), r.proximity));
            (Occur::Should, q)
        })
        .collect()
}

/// Pseudo-relevance feedback (RM3-style) for long, natural-language queries: the words that
/// characterise the first results are added, weighted below the query's own words.
fn expand(
    searcher: &Searcher,
    f: &Fields,
    clauses: Clauses,
    words: &[String],
) -> Result<BooleanQuery, IndexError> {
    let r = Ranking::current();
    let first = BooleanQuery::new(clauses.iter().map(|(o, q)| (*o, q.box_clone())).collect());
    let top = searcher.search(
        &first,
        &TopDocs::with_limit(r.feedback_docs).order_by_score(),
    )?;
    let Some(max_score) = top.first().map(|(s, _)| *s) else {
        return Ok(first);
    };
    let scores: Vec<f32> = top.iter().map(|(s, _)| *s).collect();
    let share = r.feedback_share(&scores);
    if share <= 0.0 {
        return Ok(first);
    }
    let mut weights: HashMap<String, f32> = HashMap::new();
    let num_docs = searcher.num_docs() as f32;
    for (score, addr) in &top {
        let doc: TantivyDocument = searcher.doc(*addr)?;
        let body = stored::text(&doc, f.body).unwrap_or_default();
        let toks = schema::tokens(&body);
        if toks.is_empty() {
            continue;
        }
        let mut tf: HashMap<String, f32> = HashMap::new();
        for (_, tok) in toks.iter() {
            *tf.entry(tok.clone()).or_default() += 1.0;
        }
        let len = toks.len() as f32;
        let doc_weight = (score / max_score).powf(r.feedback_doc_power);
        for (tok, n) in tf {
            *weights.entry(tok).or_default() += doc_weight * n / len;
        }
    }
    let mut scored: Vec<(String, f32)> = Vec::with_capacity(weights.len());
    for (tok, w) in weights {
        if words.contains(&tok)
            || tok.chars().count() < 3
            || tok.chars().all(|c| c.is_ascii_digit())
        {
            continue;
        }
        let df = searcher.doc_freq(&Term::from_field_text(f.body, &tok))? as f32;
        if df < 2.0 {
            continue;
        }
        let idf = ((num_docs - df + 0.5) / (df + 0.5) + 1.0).ln();
        scored.push((tok, w * idf));
    }
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.truncate(r.feedback_terms);
    let Some(top_w) = scored.first().map(|(_, w)| *w) else {
        return Ok(first);
    };
    let mut all = clauses;
    for (tok, w) in scored {
        let q = TermQuery::new(
            Term::from_field_text(f.body, &tok),
            IndexRecordOption::WithFreqs,
        );
        all.push((
            Occur::Should,
            Box::new(BoostQuery::new(
                Box::new(q),
                share * r.feedback_weight * w / top_w,
            )),
        ));
    }
    Ok(BooleanQuery::new(all))
}

/// One query word over every text field, best field first, plus typo tolerance when the word
/// is nowhere in the index.
fn word_query(searcher: &Searcher, f: &Fields, w: &str) -> Result<Box<dyn Query>, IndexError> {
    let r = Ranking::current();
    let fields = [
        (f.title, r.title),
        (f.aliases, r.alias),
        (f.headings, r.heading),
        (f.tags, r.tag),
        (f.props, r.props),
        (f.body, r.body),
    ];
    // tantivy weighs a word by its rarity within each field, so a word common in notes but
    // rare in titles ("notes") would score like a rare word there. Each field's score is scaled
    // to the word's rarity across whole notes (approximated by its most frequent field), as
    // BM25F does.
    let n = searcher.num_docs() as f32;
    let idf = |df: u64| (1.0 + (n - df as f32 + 0.5) / (df as f32 + 0.5)).ln();
    let mut dfs = Vec::with_capacity(fields.len());
    for (field, _) in fields {
        dfs.push(searcher.doc_freq(&Term::from_field_text(field, w))?);
    }
    let df = dfs.iter().copied().max().unwrap_or(0);
    let mut per_field: Vec<Box<dyn Query>> = Vec::with_capacity(fields.len() + 2);
    for ((field, boost), field_df) in fields.into_iter().zip(dfs) {
        if field_df == 0 {
            continue;
        }
        let scale = (idf(df) / idf(field_df)).min(1.0);
        let term = Term::from_field_text(field, w);
        per_field.push(Box::new(BoostQuery::new(
            Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
            boost * scale,
        )));
    }
    let chars = w.chars().count();
    if df == 0 && chars >= 4 {
        // Probably a typo: allow one edit (two for long words), scored below exact matches.
        let distance = if chars >= 8 { 2 } else { 1 };
        for field in [f.title, f.body] {
            let fuzzy = FuzzyTermQuery::new(Term::from_field_text(field, w), distance, true);
            per_field.push(Box::new(BoostQuery::new(Box::new(fuzzy), r.fuzzy)));
        }
    }
    if per_field.is_empty() {
        return Ok(Box::new(tantivy::query::EmptyQuery));
    }
    Ok(Box::new(DisjunctionMaxQuery::with_tie_breaker(
        per_field,
        r.tie_breaker,
    )))
}

/// A query for a phrase, an operator or a group; `None` when it has no words to look for.
pub(super) fn clause_query(f: &Fields, clause: &Clause) -> Option<Box<dyn Query>> {
    let q: Box<dyn Query> = match clause {
        Clause::Text(t) => any_field(
            &schema::tokens(t),
            &[f.title, f.aliases, f.headings, f.tags, f.body],
        )?,
        Clause::Phrase(p) => any_field(
            &schema::tokens(p),
            &[f.title, f.aliases, f.headings, f.body],
        )?,
        Clause::Tag(tag) => filter(TermQuery::new(
            Term::from_field_text(f.tag_key, tag),
            IndexRecordOption::Basic,
        )),
        Clause::Path(p) => Box::new(ConstScoreQuery::new(
            any_field(&schema::path_tokens(p), &[f.path])?,
            0.0,
        )),
        Clause::File(p) => Box::new(ConstScoreQuery::new(
            any_field(&schema::path_tokens(p), &[f.file])?,
            0.0,
        )),
        Clause::Property { key, value: None } => filter(TermQuery::new(
            Term::from_field_text(f.prop_key, key),
            IndexRecordOption::Basic,
        )),
        Clause::Property {
            key,
            value: Some(v),
        } => {
            let whole = TermQuery::new(
                Term::from_field_text(f.prop_kv, &schema::prop_kv_whole(key, v)),
                IndexRecordOption::Basic,
            );
            let toks = schema::tokens(v);
            let mut alternatives: Clauses = vec![(Occur::Should, Box::new(whole))];
            if !toks.is_empty() {
                let all: Clauses = toks
                    .iter()
                    .map(|(_, t)| {
                        let q: Box<dyn Query> = Box::new(TermQuery::new(
                            Term::from_field_text(f.prop_kv, &schema::prop_kv(key, t)),
                            IndexRecordOption::Basic,
                        ));
                        (Occur::Must, q)
                    })
                    .collect();
                alternatives.push((Occur::Should, Box::new(BooleanQuery::new(all))));
            }
            Box::new(ConstScoreQuery::new(
                Box::new(BooleanQuery::new(alternatives)),
                0.0,
            ))
        }
        Clause::Any(items) => {
            let subs: Clauses = items
                .iter()
                .filter_map(|c| clause_query(f, c))
                .map(|q| (Occur::Should, q))
                .collect();
            if subs.is_empty() {
                return None;
            }
            Box::new(BooleanQuery::new(subs))
        }
    };
    Some(q)
}

fn filter(q: TermQuery) -> Box<dyn Query> {
    Box::new(ConstScoreQuery::new(Box::new(q), 0.0))
}

/// These analysed words in this order (a phrase; a single term when one word) in any of
/// `fields`.
fn any_field(toks: &[(usize, String)], fields: &[Field]) -> Option<Box<dyn Query>> {
    if toks.is_empty() {
        return None;
    }
    let base = toks[0].0;
    let subs: Clauses = fields
        .iter()
        .map(|&field| {
            let q: Box<dyn Query> = if toks.len() == 1 {
                Box::new(TermQuery::new(
                    Term::from_field_text(field, &toks[0].1),
                    IndexRecordOption::WithFreqs,
                ))
            } else {
                let terms = toks
                    .iter()
                    .map(|(pos, t)| (pos - base, Term::from_field_text(field, t)))
                    .collect();
                safe_seek(Box::new(PhraseQuery::new_with_offset(terms)))
            };
            (Occur::Should, q)
        })
        .collect();
    Some(Box::new(BooleanQuery::new(subs)))
}
