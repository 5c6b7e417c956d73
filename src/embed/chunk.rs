//! Notes cut into the pieces that get embedded: one per section (headings are the seams),
//! short neighbouring sections merged, long ones cut at a paragraph or sentence end, so a long
//! note is not averaged into one vector that means nothing in particular.

use crate::vault::Heading;

/// Longest chunk in characters: about 250 word pieces, all-MiniLM-L6-v2's input limit.
pub const CHUNK_CHARS: usize = 1000;
/// Chunks per note at most; the rest of a very long note is found by its words only.
pub const MAX_CHUNKS: usize = 24;
/// A section shorter than this is merged with the next when both fit in one chunk.
const MIN_CHARS: usize = 300;

/// One piece of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The heading of the section the chunk starts in (`None` before the first heading).
    pub heading: Option<String>,
    /// The chunk's plain text, whitespace collapsed (headings of merged sections included).
    pub text: String,
}

impl Chunk {
    /// What the model reads: the note's title and the heading give a chunk its context.
    pub fn embed_text(&self, title: &str) -> String {
        // The H1 that repeats the title says nothing new.
        let heading = self
            .heading
            .as_ref()
            .filter(|h| !h.eq_ignore_ascii_case(title));
        match heading {
            Some(h) if !self.text.is_empty() => format!("{title}: {h}. {}", self.text),
            Some(h) => format!("{title}: {h}"),
            None if self.text.is_empty() => title.to_string(),
            None => format!("{title}. {}", self.text),
        }
    }
}

/// Cuts a note's plain text (`text`, with `headings` at byte offsets into it) into chunks of
/// at most `max_chars` characters. Always at least one chunk, so a note with no body still gets
/// a vector (of its title).
pub fn chunk_note(text: &str, headings: &[Heading], max_chars: usize) -> Vec<Chunk> {
    let max_chars = max_chars.max(50);
    let sections = sections(text, headings);
    let mut merged: Vec<(Option<String>, String)> = Vec::new();
    for (heading, body) in sections {
        if let Some((_, last)) = merged.last_mut() {
            let addition = match &heading {
                Some(h) if body.is_empty() => h.clone(),
                Some(h) => format!("{h}. {body}"),
                None => body.clone(),
            };
            if last.chars().count() < MIN_CHARS
                && last.chars().count() + addition.chars().count() < max_chars
            {
                if !last.is_empty() {
                    last.push(' ');
                }
                last.push_str(&addition);
                continue;
            }
        }
        if body.is_empty() && heading.is_none() {
            continue;
        }
        merged.push((heading, body));
    }
    let mut chunks = Vec::new();
    for (heading, body) in merged {
        for piece in split_long(&body, max_chars) {
            chunks.push(Chunk {
                heading: heading.clone(),
                text: piece,
            });
        }
    }
    chunks.retain(|c| !(c.text.is_empty() && c.heading.is_none()));
    chunks.truncate(MAX_CHUNKS);
    if chunks.is_empty() {
        chunks.push(Chunk {
            heading: None,
            text: String::new(),
        });
    }
    chunks
}

/// `(heading, body)` per section, bodies with whitespace collapsed.
fn sections(text: &str, headings: &[Heading]) -> Vec<(Option<String>, String)> {
    let mut cuts: Vec<(usize, &str)> = headings
        .iter()
        .filter(|h| h.offset <= text.len() && text.is_char_boundary(h.offset))
        .map(|h| (h.offset, h.text.as_str()))
        .collect();
    cuts.sort_by_key(|c| c.0);
    let mut out = Vec::new();
    let first = cuts.first().map_or(text.len(), |c| c.0);
    out.push((None, collapse(&text[..first])));
    for (i, &(start, heading)) in cuts.iter().enumerate() {
        let end = cuts.get(i + 1).map_or(text.len(), |c| c.0);
        let mut body = &text[start..end.max(start)];
        // The plain text holds the heading's own words at its offset.
        if let Some(rest) = body.strip_prefix(heading) {
            body = rest;
        }
        let heading = collapse(heading);
        out.push(((!heading.is_empty()).then_some(heading), collapse(body)));
    }
    out
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts `text` into pieces of at most `max` characters, preferring a sentence end in the last
/// third of a piece, else a space.
fn split_long(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.chars().count() > max {
        let limit = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        let window = &rest[..limit];
        let floor = window.char_indices().nth(max * 2 / 3).map_or(0, |(i, _)| i);
        let cut = window[floor..]
            .rfind(". ")
            .map(|i| floor + i + 1)
            .or_else(|| window.rfind(' '))
            .filter(|&i| i > 0)
            .unwrap_or(limit);
        out.push(rest[..cut].trim().to_string());
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() || out.is_empty() {
        out.push(rest.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(text: &str, body: &str) -> Heading {
        Heading {
            level: 2,
            text: text.into(),
            offset: body.find(text).expect("heading in text"),
        }
    }

    #[test]
    fn sections_follow_headings_and_short_ones_merge() {
        let long = "word ".repeat(80);
        let text = format!("Intro line.\nSetup\n{long}\nUsage\nshort usage.\nLimits\nfew.\n");
        let heads = [h("Setup", &text), h("Usage", &text), h("Limits", &text)];
        let chunks = chunk_note(&text, &heads, 1000);
        // Intro (short) absorbs Setup; Usage (short) absorbs Limits.
        assert_eq!(chunks.len(), 2, "{chunks:#?}");
        assert_eq!(chunks[0].heading, None);
        assert!(chunks[0].text.starts_with("Intro line. Setup. word word"));
        assert_eq!(chunks[1].heading.as_deref(), Some("Usage"));
        assert_eq!(chunks[1].text, "short usage. Limits. few.");
    }

    #[test]
    fn long_sections_are_cut_at_sentence_ends_under_the_cap() {
        let sentence = "This sentence has exactly eight words in it. ";
        let text = format!("Big\n{}", sentence.repeat(60));
        let chunks = chunk_note(&text, &[h("Big", &text)], 400);
        assert!(chunks.len() >= 6, "{}", chunks.len());
        for c in &chunks {
            assert!(c.text.chars().count() <= 400, "{}", c.text.len());
            assert!(c.text.ends_with('.'), "cut mid-sentence: {:?}", c.text);
            assert_eq!(c.heading.as_deref(), Some("Big"));
        }
        let total: usize = chunks
            .iter()
            .map(|c| c.text.split_whitespace().count())
            .sum();
        assert_eq!(total, 60 * 8, "no word lost or doubled");
    }

    #[test]
    fn a_word_longer_than_the_cap_is_cut_anyway_and_multibyte_text_is_safe() {
        let text = "é".repeat(130);
        let chunks = chunk_note(&text, &[], 50);
        assert_eq!(chunks.len(), 3);
        assert!(chunks.iter().all(|c| c.text.chars().count() <= 50));
    }

    #[test]
    fn an_empty_note_still_has_one_chunk_for_its_title() {
        let chunks = chunk_note("", &[], 1000);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].embed_text("Groceries"), "Groceries");
    }

    #[test]
    fn chunk_count_is_capped() {
        let text = "Sentence number something here. ".repeat(2000);
        assert_eq!(chunk_note(&text, &[], 100).len(), MAX_CHUNKS);
    }
}
