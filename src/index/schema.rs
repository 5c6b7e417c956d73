//! The index schema, its version, and the text analyzer.

use tantivy::schema::{
    DateOptions, FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer,
};

/// Bumped whenever the schema or the analysis changes: an index of another version is rebuilt.
pub const SCHEMA_VERSION: u32 = 1;

/// Name of the English analyzer: words, lower-cased, ASCII-folded, stop words out, stemmed.
pub const EN: &str = "vaultmcp_en";

/// Separates a property key from a value token in `prop_kv` terms.
pub const PROP_SEP: char = '\u{1f}';

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
}

fn text(stored: bool) -> TextOptions {
    let opts = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(EN)
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
        path: b.add_text_field("path", text(false)),
        file: b.add_text_field("file", text(false)),
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
    };
    (b.build(), fields)
}

/// The English analyzer used for every analyzed field and for queries.
pub fn analyzer() -> TextAnalyzer {
    let stop =
        StopWordFilter::new(Language::English).expect("tantivy ships an English stop word list");
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(stop)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// Analyzes `text` into (position, token) pairs.
pub fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<(usize, String)> {
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while let Some(t) = stream.next() {
        out.push((t.position, t.text.clone()));
    }
    out
}
