//! Snippets: the text around a hit's best match with the matched words in `**bold**`, and the
//! heading of the section it comes from.

use tantivy::Searcher;
use tantivy::query::Query;
use tantivy::schema::Field;
use tantivy::snippet::{Snippet, SnippetGenerator};

use super::IndexError;
use super::schema;
use super::stored::StoredHeading;

/// Snippet length in characters.
const SNIPPET_CHARS: usize = 220;

/// Makes the snippets of one search's hits.
pub(super) struct Snippets<'a> {
    generator: SnippetGenerator,
    /// The query's words, analysed.
    words: &'a [String],
    /// The stems looked for to place the snippet's window (the words and the phrases' words).
    stems: &'a [String],
}

impl<'a> Snippets<'a> {
    pub(super) fn new(
        searcher: &Searcher,
        query: &dyn Query,
        field: Field,
        words: &'a [String],
        stems: &'a [String],
    ) -> Result<Snippets<'a>, IndexError> {
        let mut generator = SnippetGenerator::create(searcher, query, field)?;
        generator.set_max_num_chars(SNIPPET_CHARS);
        Ok(Snippets {
            generator,
            words,
            stems,
        })
    }

    /// The snippet of a note's body and the heading of the section it comes from.
    pub(super) fn make(&self, body: &str, headings: &[StoredHeading]) -> (String, Option<String>) {
        // Analyse only the neighbourhood of the first match when one is easy to find; the
        // whole note when not (or when that window has no match after all).
        let (mut offset, window) = window(body, self.stems);
        let mut snippet = self.generator.snippet(window);
        if snippet.is_empty() && window.len() < body.len() {
            snippet = self.generator.snippet(body);
            offset = 0;
        }
        if snippet.is_empty() {
            (
                excerpt(body, self.words),
                best_heading_by_words(headings, self.words),
            )
        } else {
            let start = offset + snippet.fragment_range().start;
            (
                bold(&snippet),
                heading_before(headings, start)
                    .or_else(|| best_heading_by_words(headings, self.words)),
            )
        }
    }
}

/// Where the snippet generator should look: a window around the first place one of the query's
/// stems appears (ASCII case-insensitively; a stem is a prefix of most forms of its word), with
/// its byte offset in `body`; the whole text when the note is short or nothing is found.
/// Analysing a window instead of a long note is most of the cost of a search.
fn window<'a>(body: &'a str, stems: &[String]) -> (usize, &'a str) {
    const BEFORE: usize = 400;
    const AFTER: usize = 800;
    if body.len() <= BEFORE + AFTER {
        return (0, body);
    }
    let hay = body.as_bytes();
    let first = stems
        .iter()
        .filter(|s| s.len() >= 3)
        .filter_map(|s| find_ignoring_ascii_case(hay, s.as_bytes()))
        .min();
    let Some(at) = first else { return (0, body) };
    let mut start = at.saturating_sub(BEFORE);
    while !body.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + AFTER).min(body.len());
    while !body.is_char_boundary(end) {
        end += 1;
    }
    (start, &body[start..end])
}

/// The first place `needle` appears in `hay`, ASCII case-insensitively. Candidates are found
/// by their first byte with `memchr` (comparing at every byte was a twentieth of a search).
fn find_ignoring_ascii_case(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let (lower, upper) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    memchr::memchr2_iter(lower, upper, hay).find(|&at| {
        hay.get(at + 1..at + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(rest))
    })
}

/// The snippet with its matches in `**bold**`, on one line.
fn bold(snippet: &Snippet) -> String {
    let frag = snippet.fragment();
    let mut out = String::with_capacity(frag.len() + 16);
    // Highlights may overlap (CJK bigrams) or touch: merge them first.
    let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
    let mut sorted: Vec<_> = snippet.highlighted().to_vec();
    sorted.sort_by_key(|r| r.start);
    for r in sorted {
        match ranges.last_mut() {
            Some(prev) if r.start <= prev.end => prev.end = prev.end.max(r.end),
            _ => ranges.push(r),
        }
    }
    let mut last = 0;
    for r in ranges {
        let (Some(before), Some(word)) = (frag.get(last..r.start), frag.get(r.start..r.end)) else {
            continue;
        };
        out.push_str(before);
        out.push_str("**");
        out.push_str(word);
        out.push_str("**");
        last = r.end;
    }
    out.push_str(frag.get(last..).unwrap_or(""));
    one_line(&out)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An excerpt when the snippet generator finds nothing (typo matches, filter-only queries):
/// the first line containing a word that stems like a query word, else the opening of the note.
fn excerpt(body: &str, words: &[String]) -> String {
    let line = body
        .lines()
        .find(|line| {
            !words.is_empty() && schema::tokens(line).iter().any(|(_, t)| words.contains(t))
        })
        .or_else(|| body.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("");
    let text = one_line(line);
    match text.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn heading_before(headings: &[StoredHeading], offset: usize) -> Option<String> {
    headings
        .iter()
        .take_while(|(o, _, _)| *o <= offset)
        .last()
        .map(|(_, _, t)| t.clone())
}

fn best_heading_by_words(headings: &[StoredHeading], words: &[String]) -> Option<String> {
    headings
        .iter()
        .map(|(_, _, t)| {
            (
                schema::tokens(t)
                    .iter()
                    .filter(|(_, w)| words.contains(w))
                    .count(),
                t,
            )
        })
        .filter(|(n, _)| *n > 0)
        .max_by_key(|(n, _)| *n)
        .map(|(_, t)| t.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The memchr search finds what comparing at every byte finds.
        #[test]
        fn the_case_insensitive_find_agrees_with_comparing_at_every_byte(
            hay in "[aAbB é.]{0,40}",
            needle in "[aAbB é.]{1,4}",
        ) {
            let (hay, needle) = (hay.as_bytes(), needle.as_bytes());
            let every_byte = hay
                .windows(needle.len())
                .position(|w| w.eq_ignore_ascii_case(needle));
            proptest::prop_assert_eq!(find_ignoring_ascii_case(hay, needle), every_byte);
        }
    }
}
