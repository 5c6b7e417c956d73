//! The index schema, its version, and the text analyzer.

use std::cell::RefCell;
use std::collections::VecDeque;

use tantivy::schema::{
    BytesOptions, DateOptions, FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, StopWordFilter, TextAnalyzer, Token,
    TokenStream, Tokenizer,
};

/// Bumped whenever the schema or the analysis changes: an index of another version is rebuilt.
pub const SCHEMA_VERSION: u32 = 5;

/// Name of the English analyzer: words, lower-cased, ASCII-folded, stop words out, stemmed.
pub const EN: &str = "vaultmcp_en";

/// Name of the analyzer of paths and file names: words, lower-cased, ASCII-folded, nothing
/// dropped or stemmed (`file:other-note` must not lose `other`).
pub const PATH: &str = "vaultmcp_path";

/// Separates a property key from a value token in `prop_kv` terms.
const PROP_SEP: char = '\u{1f}';

/// A `prop_kv` term: a (lower-cased) property key and one analysed token of its value. The
/// writer and the search build these terms here, so the two cannot disagree on the format.
pub fn prop_kv(key: &str, token: &str) -> String {
    format!("{key}{PROP_SEP}{token}")
}

/// The `prop_kv` term of a property's whole value, trimmed and lower-cased, which
/// `[status:in-progress]` matches as well as each of its words.
pub fn prop_kv_whole(key: &str, value: &str) -> String {
    prop_kv(key, &value.trim().to_lowercase())
}

/// Handles to every field.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// The note id (vault-relative path, `.md` included), exact.
    pub id: Field,
    /// Lower-cased id without `.md`, for link resolution.
    pub path_key: Field,
    /// Lower-cased file stem, for link resolution.
    pub stem_key: Field,
    /// Lower-cased aliases, for link resolution.
    pub alias_key: Field,
    /// The frontmatter `id` value, exact.
    pub fm_id: Field,
    pub title: Field,
    pub aliases: Field,
    pub headings: Field,
    /// Tag words (analyzed) for ranking.
    pub tags: Field,
    /// Lower-cased tags and each of their parents (`type/research` and `type`), for `tag:`.
    pub tag_key: Field,
    /// Tags as written, stored for display.
    pub tag_raw: Field,
    /// The path, analyzed, for `path:`.
    pub path: Field,
    /// The file name, analyzed, for `file:`.
    pub file: Field,
    pub body: Field,
    /// Property values, analyzed, for ranking.
    pub props: Field,
    /// Lower-cased property keys, for `[key]`.
    pub prop_key: Field,
    /// `key<US>token` for each analyzed value token, for `[key:value]`.
    pub prop_kv: Field,
    pub created: Field,
    pub modified: Field,
    pub size: Field,
    pub mtime: Field,
    pub hash: Field,
    /// Keys of outgoing link targets (full and last segment), for backlinks.
    pub link_key: Field,
    /// Outgoing links as JSON, stored.
    pub links_json: Field,
    /// Headings with offsets as JSON, stored.
    pub headings_json: Field,
    /// The note's chunk vectors, int8-quantised (see `vectors.rs`); absent until embedded.
    pub vec: Field,
    /// The identity of the model that made `vec`.
    pub vec_model: Field,
    /// Per chunk `[heading, text]` as JSON, stored: a semantic hit's heading and snippet.
    pub chunks_json: Field,
}

fn text(stored: bool) -> TextOptions {
    text_with(EN, stored)
}

fn text_with(tokenizer: &str, stored: bool) -> TextOptions {
    let opts = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    if stored { opts.set_stored() } else { opts }
}

/// Builds the schema and its field handles.
pub fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let date = DateOptions::default().set_indexed().set_stored().set_fast();
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED | FAST),
        path_key: b.add_text_field("path_key", STRING),
        stem_key: b.add_text_field("stem_key", STRING),
        alias_key: b.add_text_field("alias_key", STRING),
        fm_id: b.add_text_field("fm_id", STRING),
        title: b.add_text_field("title", text(true)),
        aliases: b.add_text_field("aliases", text(true)),
        headings: b.add_text_field("headings", text(false)),
        tags: b.add_text_field("tags", text(false)),
        tag_key: b.add_text_field("tag_key", STRING),
        tag_raw: b.add_text_field("tag_raw", STORED),
        path: b.add_text_field("path", text_with(PATH, false)),
        file: b.add_text_field("file", text_with(PATH, false)),
        body: b.add_text_field("body", text(true)),
        props: b.add_text_field("props", text(false)),
        prop_key: b.add_text_field("prop_key", STRING),
        prop_kv: b.add_text_field("prop_kv", STRING),
        created: b.add_date_field("created", date.clone()),
        modified: b.add_date_field("modified", date),
        size: b.add_u64_field("size", FAST),
        mtime: b.add_i64_field("mtime", FAST),
        hash: b.add_u64_field("hash", FAST | STORED | INDEXED),
        link_key: b.add_text_field("link_key", STRING),
        links_json: b.add_text_field("links_json", STORED),
        headings_json: b.add_text_field("headings_json", STORED),
        vec: b.add_bytes_field(super::vectors::VEC, BytesOptions::default().set_fast()),
        vec_model: b.add_text_field(super::vectors::VEC_MODEL, STRING | FAST),
        chunks_json: b.add_text_field("chunks_json", STORED),
    };
    (b.build(), fields)
}

/// Function words, left out of the index and of queries. Lucene's short English list misses
/// pronouns and question words, which ChatGPT's natural-language queries are full of ("my notes
/// about ...", "how did ..."): in a small vault such a word is rare enough to outrank the topic.
/// This is the common NLTK list plus "please".
const STOP_WORDS: &[&str] = &[
    "i",
    "me",
    "my",
    "myself",
    "we",
    "our",
    "ours",
    "ourselves",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "he",
    "him",
    "his",
    "himself",
    "she",
    "her",
    "hers",
    "herself",
    "it",
    "its",
    "itself",
    "they",
    "them",
    "their",
    "theirs",
    "themselves",
    "what",
    "which",
    "who",
    "whom",
    "this",
    "that",
    "these",
    "those",
    "am",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "have",
    "has",
    "had",
    "having",
    "do",
    "does",
    "did",
    "doing",
    "a",
    "an",
    "the",
    "and",
    "but",
    "if",
    "or",
    "because",
    "as",
    "until",
    "while",
    "of",
    "at",
    "by",
    "for",
    "with",
    "about",
    "against",
    "between",
    "into",
    "through",
    "during",
    "before",
    "after",
    "above",
    "below",
    "to",
    "from",
    "up",
    "down",
    "in",
    "out",
    "on",
    "off",
    "over",
    "under",
    "again",
    "further",
    "then",
    "once",
    "here",
    "there",
    "when",
    "where",
    "why",
    "how",
    "all",
    "any",
    "both",
    "each",
    "few",
    "more",
    "most",
    "other",
    "some",
    "such",
    "no",
    "nor",
    "not",
    "only",
    "own",
    "same",
    "so",
    "than",
    "too",
    "very",
    "s",
    "t",
    "can",
    "will",
    "just",
    "don",
    "should",
    "now",
    "please",
];

/// The English analyzer used for every analyzed field and for queries.
pub fn analyzer() -> TextAnalyzer {
    let stop = StopWordFilter::remove(STOP_WORDS.iter().map(|w| (*w).to_owned()));
    TextAnalyzer::builder(WordTokenizer)
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(stop)
        .filter(super::stem::CachedStemmer)
        .build()
}

/// The analyzer of paths and file names.
pub fn path_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(WordTokenizer)
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// Splits text into words like tantivy's `SimpleTokenizer` (runs of letters and digits), with two
/// differences: combining diacritical marks stay inside their word and are dropped from the token
/// (so NFD `Rene\u{301}e` is `Renee`, like NFC `Renée` after ASCII folding), and runs of
/// CJK characters, which are written without spaces, become overlapping bigrams (`東京都` gives
/// `東京`, `京都`; a lone character is its own token), as Lucene's CJK analyzer does.
#[derive(Debug, Clone, Copy, Default)]
pub struct WordTokenizer;

/// The tokens of one text, found as they are asked for. The current token's text is one buffer
/// written over for each ASCII word (snippets analyse the text around every hit, so a string
/// allocated per word was a tenth of a search's CPU); the general path's tokens wait in
/// `pending` (a CJK run gives several at once).
pub struct WordTokens<'a> {
    text: &'a str,
    /// Where the next token may start.
    at: usize,
    token: Token,
    pending: VecDeque<Token>,
    /// Tokens given so far: the next one's position.
    given: usize,
}

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = WordTokens<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordTokens<'a> {
        WordTokens {
            text,
            at: 0,
            token: Token::default(),
            pending: VecDeque::new(),
            given: 0,
        }
    }
}

/// The token(s) starting at byte `start` of `text` in the general case (a word with letters
/// beyond ASCII or combining marks, a run of CJK characters, or a character that starts no
/// word), passed to `push`; returns where the next token may start.
fn unicode_tokens(text: &str, start: usize, push: &mut impl FnMut(usize, usize, String)) -> usize {
    let mut chars = text[start..]
        .char_indices()
        .map(|(i, c)| (start + i, c))
        .peekable();
    let Some(&(_, c)) = chars.peek() else {
        return text.len();
    };
    if is_cjk(c) {
        let mut run: Vec<(usize, char)> = Vec::new();
        while let Some(&(i, ch)) = chars.peek() {
            if !is_cjk(ch) {
                break;
            }
            run.push((i, ch));
            chars.next();
        }
        let end_of = |k: usize| run[k].0 + run[k].1.len_utf8();
        if run.len() == 1 {
            push(run[0].0, end_of(0), run[0].1.to_string());
        }
        for k in 1..run.len() {
            push(
                run[k - 1].0,
                end_of(k),
                [run[k - 1].1, run[k].1].iter().collect(),
            );
        }
        // `c` is CJK, so the run holds at least it.
        end_of(run.len() - 1)
    } else if c.is_alphanumeric() {
        let mut word = String::new();
        let mut end = start;
        while let Some(&(i, ch)) = chars.peek() {
            if is_cjk(ch) || !(ch.is_alphanumeric() || is_combining_mark(ch)) {
                break;
            }
            if !is_combining_mark(ch) {
                word.push(ch);
            }
            end = i + ch.len_utf8();
            chars.next();
        }
        push(start, end, word);
        end
    } else {
        start + c.len_utf8()
    }
}

impl TokenStream for WordTokens<'_> {
    fn advance(&mut self) -> bool {
        let bytes = self.text.as_bytes();
        loop {
            if let Some(token) = self.pending.pop_front() {
                self.token = token;
                break;
            }
            let at = self.at;
            if at >= bytes.len() {
                return false;
            }
            // Most text is ASCII: a word of ASCII letters and digits that ends in ASCII is
            // copied in one piece, without decoding characters.
            if bytes[at].is_ascii() {
                if !bytes[at].is_ascii_alphanumeric() {
                    self.at += 1;
                    continue;
                }
                let end = bytes[at..]
                    .iter()
                    .position(|b| !b.is_ascii_alphanumeric())
                    .map_or(bytes.len(), |n| at + n);
                if end == bytes.len() || bytes[end].is_ascii() {
                    self.token.text.clear();
                    self.token.text.push_str(&self.text[at..end]);
                    self.token.offset_from = at;
                    self.token.offset_to = end;
                    self.at = end;
                    break;
                }
            }
            let pending = &mut self.pending;
            self.at = unicode_tokens(self.text, at, &mut |from, to, text| {
                pending.push_back(Token {
                    offset_from: from,
                    offset_to: to,
                    text,
                    ..Token::default()
                });
            });
        }
        self.token.position = self.given;
        self.token.position_length = 1;
        self.given += 1;
        true
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// Combining diacritical marks (the blocks Latin, Greek and Cyrillic NFD text uses).
fn is_combining_mark(c: char) -> bool {
    matches!(c, '\u{300}'..='\u{36f}' | '\u{1ab0}'..='\u{1aff}' | '\u{1dc0}'..='\u{1dff}' | '\u{20d0}'..='\u{20ff}' | '\u{fe20}'..='\u{fe2f}')
}

/// Scripts written without spaces between words: Han, Hiragana, Katakana, Hangul syllables.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30ff}' | '\u{31f0}'..='\u{31ff}' | '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}'
        | '\u{ac00}'..='\u{d7af}' | '\u{f900}'..='\u{faff}' | '\u{ff66}'..='\u{ff9f}' | '\u{20000}'..='\u{2fa1f}')
}

thread_local! {
    // Built once per thread, not per call: an analyzer carries its stop word set, and a search
    // or an indexing thread analyses many short texts.
    static EN_ANALYZER: RefCell<TextAnalyzer> = RefCell::new(analyzer());
    static PATH_ANALYZER: RefCell<TextAnalyzer> = RefCell::new(path_analyzer());
}

/// Analyzes `text` with the English analyzer into (position, token) pairs.
pub fn tokens(text: &str) -> Vec<(usize, String)> {
    EN_ANALYZER.with_borrow_mut(|a| analyze(a, text))
}

/// Analyzes `text` with the analyzer of paths and file names into (position, token) pairs.
pub fn path_tokens(text: &str) -> Vec<(usize, String)> {
    PATH_ANALYZER.with_borrow_mut(|a| analyze(a, text))
}

fn analyze(analyzer: &mut TextAnalyzer, text: &str) -> Vec<(usize, String)> {
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while let Some(t) = stream.next() {
        out.push((t.position, t.text.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: &[&str]) {
        let got: Vec<String> = tokens(text).into_iter().map(|(_, t)| t).collect();
        assert_eq!(got, expected, "tokens of {text:?}");
    }

    /// Every token with its offsets, as `WordTokenizer` gives them.
    fn raw_tokens(text: &str) -> Vec<(usize, usize, String)> {
        let mut tokenizer = WordTokenizer;
        let mut stream = tokenizer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            let t = stream.token();
            assert_eq!((t.position, t.position_length), (out.len(), 1));
            out.push((t.offset_from, t.offset_to, t.text.clone()));
        }
        out
    }

    proptest::proptest! {
        /// The ASCII fast path is only a shortcut: the general path alone, run over the whole
        /// text, gives the same tokens and offsets.
        #[test]
        fn the_ascii_fast_path_tokenises_like_the_general_path(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "word", "Caf", "e\u{301}", "é", "2024", " ", "-", "_", "x1", "東京都", "語",
                    "Ünïcödé", "\u{301}", "naïve", ".", "ΑΒΓ", "\n", "a", "Z9",
                ]),
                0..12,
            )
        ) {
            let text: String = parts.concat();
            let mut general = Vec::new();
            let mut at = 0;
            while at < text.len() {
                at = unicode_tokens(&text, at, &mut |from, to, t| general.push((from, to, t)));
            }
            proptest::prop_assert_eq!(raw_tokens(&text), general);
        }
    }

    #[test]
    fn analysis() {
        check("Running quickly", &["run", "quick"]);
        check(
            "Renée résumé naïve café",
            &["rene", "resum", "naiv", "cafe"],
        );
        check(
            "Rene\u{301}e re\u{301}sume\u{301} nai\u{308}ve cafe\u{301}",
            &["rene", "resum", "naiv", "cafe"],
        );
        check("東京", &["東京"]);
        check("東京で会議", &["東京", "京で", "で会", "会議"]);
        check("全文検索。東", &["全文", "文検", "検索", "東"]);
        check("BM25 and 東京tower", &["bm25", "東京", "tower"]);
        check("поиска Καλλιμάχου", &["поиска", "καλλιμάχου"]);
        check("\u{301}alone ,,, ", &["alon"]);
        check("", &[]);
    }

    #[test]
    fn offsets_are_char_boundaries() {
        let text = "a\u{301}b 東京都 x";
        let mut a = analyzer();
        let mut stream = a.token_stream(text);
        while let Some(t) = stream.next() {
            assert!(text.is_char_boundary(t.offset_from) && text.is_char_boundary(t.offset_to));
            assert!(t.offset_from < t.offset_to);
        }
    }
}
