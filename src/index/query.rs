//! The search language: free text plus Obsidian's operators, parsed without ever failing.
//!
//! `"exact phrase"`, `-term` (also `-"phrase"`, `-tag:#x`), `a OR b`, `tag:#x` (nested:
//! `tag:#type` matches `#type/research`), `path:`, `file:`, `[property]`, `[property:value]`.
//! `content:`/`line:`/`section:` prefixes are dropped and their text searched. Parentheses are
//! separators. Anything else is text: ChatGPT's punctuation, colons and quotes included.

/// One thing the query asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    /// Free text, ranked (BM25); the analyzer splits it into words.
    Text(String),
    /// Words that must appear in this order.
    Phrase(String),
    /// A tag, without `#`, lower-cased; matches nested tags below it.
    Tag(String),
    Path(String),
    File(String),
    Property {
        key: String,
        value: Option<String>,
    },
    /// Any of these (an `OR` group of operators or phrases).
    Any(Vec<Clause>),
}

/// A parsed query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedQuery {
    /// Free text that ranks the results.
    pub text: Vec<String>,
    /// Phrases and operators every result must satisfy.
    pub must: Vec<Clause>,
    /// What no result may match.
    pub must_not: Vec<Clause>,
}

impl ParsedQuery {
    pub fn is_empty(&self) -> bool {
        self.text.iter().all(|t| t.trim().is_empty()) && self.must.is_empty()
    }
}

#[derive(Debug)]
enum Item {
    Clause { clause: Clause, negated: bool },
    Or,
}

/// Parses a query. Never fails: whatever cannot be an operator is text.
pub fn parse_query(input: &str) -> ParsedQuery {
    let items = lex(input);
    // Group items joined by OR.
    let mut groups: Vec<Vec<(Clause, bool)>> = Vec::new();
    let mut join_next = false;
    for item in items {
        match item {
            Item::Or => join_next = !groups.is_empty(),
            Item::Clause { clause, negated } => {
                if join_next && let Some(last) = groups.last_mut() {
                    last.push((clause, negated));
                } else {
                    groups.push(vec![(clause, negated)]);
                }
                join_next = false;
            }
        }
    }
    let mut q = ParsedQuery::default();
    for mut group in groups {
        if group.len() == 1 {
            let (clause, negated) = group.pop().expect("one item");
            match (clause, negated) {
                (c, true) => q.must_not.push(c),
                (Clause::Text(t), false) => q.text.push(t),
                (c, false) => q.must.push(c),
            }
            continue;
        }
        // An OR group. Negations inside it are kept as exclusions; free text already ranks
        // as "any of", so only operators and phrases need a disjunction.
        let mut alternatives = Vec::new();
        for (clause, negated) in group {
            match (clause, negated) {
                (c, true) => q.must_not.push(c),
                (Clause::Text(t), false) => {
                    q.text.push(t.clone());
                    alternatives.push(Clause::Text(t));
                }
                (c, false) => alternatives.push(c),
            }
        }
        if alternatives.iter().any(|c| !matches!(c, Clause::Text(_))) {
            q.must.push(Clause::Any(alternatives));
        }
    }
    q
}

fn lex(input: &str) -> Vec<Item> {
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() || c == '(' || c == ')' {
            i += 1;
            continue;
        }
        let negated = (c == '-' || c == '!')
            && chars
                .get(i + 1)
                .is_some_and(|n| !n.is_whitespace() && *n != '-');
        if negated {
            i += 1;
        }
        let clause = match chars[i] {
            '"' | '“' | '”' => {
                let (text, next) = quoted(&chars, i);
                i = next;
                Clause::Phrase(text)
            }
            '[' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == ']')
                    .map_or(chars.len(), |p| i + 1 + p);
                let inner: String = chars[i + 1..end].iter().collect();
                i = (end + 1).min(chars.len());
                property(&inner)
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(chars[i], '"' | '(' | ')' | '[' | '“' | '”')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if word == "OR" && !negated {
                    out.push(Item::Or);
                    continue;
                }
                let op = word
                    .split_once(':')
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()));
                match op {
                    Some((key, value)) if is_operator(&key) => {
                        // `path:"two words"`: the value is the quoted string that follows.
                        let value =
                            if value.is_empty() && i < chars.len() && matches!(chars[i], '"' | '“')
                            {
                                let (text, next) = quoted(&chars, i);
                                i = next;
                                text
                            } else {
                                value
                            };
                        operator(&key, value)
                    }
                    _ => Clause::Text(word),
                }
            }
        };
        if is_blank(&clause) {
            continue;
        }
        out.push(Item::Clause { clause, negated });
    }
    out
}

fn quoted(chars: &[char], open: usize) -> (String, usize) {
    let start = open + 1;
    let end = chars[start..]
        .iter()
        .position(|&c| c == '"' || c == '”' || c == '“')
        .map_or(chars.len(), |p| start + p);
    (
        chars[start..end].iter().collect(),
        (end + 1).min(chars.len()).max(start),
    )
}

fn is_operator(key: &str) -> bool {
    matches!(
        key,
        "tag" | "path" | "file" | "content" | "line" | "section" | "block"
    )
}

fn operator(key: &str, value: String) -> Clause {
    match key {
        "tag" => Clause::Tag(
            value
                .trim()
                .trim_start_matches('#')
                .trim_end_matches('/')
                .to_lowercase(),
        ),
        "path" => Clause::Path(value),
        "file" => Clause::File(value),
        _ => Clause::Text(value),
    }
}

fn property(inner: &str) -> Clause {
    match inner.split_once(':') {
        Some((k, v)) => {
            let v = v.trim().trim_matches('"').trim();
            Clause::Property {
                key: k.trim().to_lowercase(),
                value: (!v.is_empty()).then(|| v.to_owned()),
            }
        }
        None => Clause::Property {
            key: inner.trim().to_lowercase(),
            value: None,
        },
    }
}

fn is_blank(c: &Clause) -> bool {
    match c {
        Clause::Text(s)
        | Clause::Phrase(s)
        | Clause::Tag(s)
        | Clause::Path(s)
        | Clause::File(s) => s.trim().is_empty(),
        Clause::Property { key, .. } => key.is_empty(),
        Clause::Any(v) => v.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, text: &[&str], must: &[Clause], must_not: &[Clause]) {
        let q = parse_query(input);
        assert_eq!(q.text, text, "text of {input:?}");
        assert_eq!(q.must, must, "must of {input:?}");
        assert_eq!(q.must_not, must_not, "must_not of {input:?}");
    }

    #[test]
    fn operators() {
        use Clause::*;
        check("oauth github", &["oauth", "github"], &[], &[]);
        check(
            "\"exact phrase\" other",
            &["other"],
            &[Phrase("exact phrase".into())],
            &[],
        );
        check(
            "docker -kubernetes",
            &["docker"],
            &[],
            &[Text("kubernetes".into())],
        );
        check(
            "tag:#type/Research x",
            &["x"],
            &[Tag("type/research".into())],
            &[],
        );
        check("-tag:draft", &[], &[], &[Tag("draft".into())]);
        check(
            "path:research/2025 file:Docker",
            &[],
            &[Path("research/2025".into()), File("Docker".into())],
            &[],
        );
        check("path:\"two words\"", &[], &[Path("two words".into())], &[]);
        check(
            "[status:draft] [type]",
            &[],
            &[
                Property {
                    key: "status".into(),
                    value: Some("draft".into()),
                },
                Property {
                    key: "type".into(),
                    value: None,
                },
            ],
            &[],
        );
        check(
            "tag:#a OR tag:#b",
            &[],
            &[Any(vec![Tag("a".into()), Tag("b".into())])],
            &[],
        );
        check("docker OR podman", &["docker", "podman"], &[], &[]);
        check("content:scaling", &["scaling"], &[], &[]);
    }

    #[test]
    fn chatgpt_text_is_just_text() {
        use Clause::*;
        check(
            "What is OAuth? (PKCE: S256)",
            &["What", "is", "OAuth?", "PKCE:", "S256"],
            &[],
            &[],
        );
        check("a - b", &["a", "-", "b"], &[], &[]);
        check(
            "\"unclosed phrase",
            &[],
            &[Phrase("unclosed phrase".into())],
            &[],
        );
        check(
            "[unclosed",
            &[],
            &[Property {
                key: "unclosed".into(),
                value: None,
            }],
            &[],
        );
        check("OR OR", &[], &[], &[]);
        check("\"\" [] tag: ()", &[], &[], &[]);
        check("foo:bar", &["foo:bar"], &[], &[]);
    }
}
