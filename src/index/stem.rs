//! English stemming with a per-thread memo. Stemming is the most expensive step of analysis,
//! both when indexing and when a search builds snippets and feedback terms, and text repeats
//! its words: remembering each word's stem makes it a hash lookup. Same algorithm and crate as
//! tantivy's own `Stemmer`, so the stems are identical.

use std::cell::RefCell;
use std::collections::HashMap;

use foldhash::fast::RandomState;

use tantivy::tokenizer::{Token, TokenFilter, TokenStream, Tokenizer};

/// Words remembered per thread before the memo starts over (a few MB at most).
const MEMO_LIMIT: usize = 200_000;

/// Word → stem. foldhash rather than the standard SipHash: looking words up was a tenth of a
/// search's CPU (snippets analyse text around each hit), most of it hashing. Still seeded per
/// process, so note text cannot be written to collide.
type Memo = HashMap<String, String, RandomState>;

thread_local! {
    static MEMO: RefCell<(frostem::Stemmer, Memo)> = RefCell::new((
        frostem::Stemmer::new(frostem::Algorithm::English),
        Memo::default(),
    ));
}

/// The English Snowball stemmer as a token filter (tokens must be lower-cased before).
#[derive(Clone, Copy, Debug, Default)]
pub struct CachedStemmer;

impl TokenFilter for CachedStemmer {
    type Tokenizer<T: Tokenizer> = CachedStemmerFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> CachedStemmerFilter<T> {
        CachedStemmerFilter { inner: tokenizer }
    }
}

#[derive(Clone)]
pub struct CachedStemmerFilter<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for CachedStemmerFilter<T> {
    type TokenStream<'a> = CachedStemmerStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        CachedStemmerStream {
            tail: self.inner.token_stream(text),
        }
    }
}

pub struct CachedStemmerStream<T> {
    tail: T,
}

impl<T: TokenStream> TokenStream for CachedStemmerStream<T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        MEMO.with(|memo| {
            let mut memo = memo.borrow_mut();
            let (stemmer, seen) = &mut *memo;
            if let Some(stem) = seen.get(&token.text) {
                token.text.clear();
                token.text.push_str(stem);
                return;
            }
            let stem = stemmer.stem(&token.text).into_owned();
            if seen.len() >= MEMO_LIMIT {
                seen.clear();
            }
            seen.insert(std::mem::replace(&mut token.text, stem.clone()), stem);
        });
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use tantivy::tokenizer::{LowerCaser, SimpleTokenizer, Stemmer, TextAnalyzer};

    use super::*;

    #[test]
    fn same_stems_as_tantivy() {
        let text = "Running runners ran quickly; indexing indexes indexed. Généralement, the caresses \
                    ponies' generalizations happily happily running";
        let collect = |mut a: TextAnalyzer| {
            let mut s = a.token_stream(text);
            let mut out = Vec::new();
            while let Some(t) = s.next() {
                out.push(t.text.clone());
            }
            out
        };
        let ours = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(CachedStemmer)
            .build();
        let theirs = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(Stemmer::default())
            .build();
        let ours = collect(ours);
        assert_eq!(ours, collect(theirs));
        // Twice: the second pass comes from the memo.
        let again = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(CachedStemmer)
            .build();
        assert_eq!(collect(again), ours);
    }
}
