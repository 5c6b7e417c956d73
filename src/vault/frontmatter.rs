//! YAML frontmatter: finding the fence, parsing it leniently, picking the fields we know.

use gray_matter::Pod;
use gray_matter::engine::{Engine, YAML};
use serde_json::{Map, Value};

/// Frontmatter larger than this is not parsed (YAML anchors can expand without bound).
const MAX_FRONTMATTER_BYTES: usize = 256 * 1024;

/// A note's text split into its frontmatter and its body.
#[derive(Debug, Default)]
pub struct Split<'a> {
    /// The YAML between the fences, when the note has a closed frontmatter block.
    pub yaml: Option<&'a str>,
    /// Everything after the closing fence (or the whole text).
    pub body: &'a str,
    /// Set when the note opens a frontmatter fence that never closes.
    pub unclosed: bool,
}

/// Splits `text` at its frontmatter fences. An unclosed fence leaves the whole text as the body,
/// as Obsidian shows it.
pub fn split(text: &str) -> Split<'_> {
    let text_no_bom = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(first_line_end) = text_no_bom.find('\n') else {
        return Split {
            yaml: None,
            body: text_no_bom,
            unclosed: text_no_bom.trim_end() == "---",
        };
    };
    if text_no_bom[..first_line_end].trim_end() != "---" {
        return Split {
            yaml: None,
            body: text_no_bom,
            unclosed: false,
        };
    }
    let rest_start = first_line_end + 1;
    let mut pos = rest_start;
    while pos <= text_no_bom.len() {
        let line_end = text_no_bom[pos..]
            .find('\n')
            .map_or(text_no_bom.len(), |i| pos + i);
        let line = text_no_bom[pos..line_end].trim_end();
        if line == "---" || line == "..." {
            let body_start = (line_end + 1).min(text_no_bom.len());
            return Split {
                yaml: Some(&text_no_bom[rest_start..pos]),
                body: &text_no_bom[body_start..],
                unclosed: false,
            };
        }
        if line_end == text_no_bom.len() {
            break;
        }
        pos = line_end + 1;
    }
    Split {
        yaml: None,
        body: text_no_bom,
        unclosed: true,
    }
}

/// Parses frontmatter YAML into a JSON object. Errors are one sentence for the warning.
pub fn parse_yaml(yaml: &str) -> Result<Map<String, Value>, String> {
    if yaml.len() > MAX_FRONTMATTER_BYTES {
        return Err(format!(
            "frontmatter is larger than {} KiB",
            MAX_FRONTMATTER_BYTES / 1024
        ));
    }
    if yaml.trim().is_empty() {
        return Ok(Map::new());
    }
    let pod = YAML::parse(yaml).map_err(|e| format!("frontmatter is not valid YAML: {e}"))?;
    match pod_to_json(pod) {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        other => Err(format!(
            "frontmatter is a {} rather than a set of properties",
            kind(&other)
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

fn pod_to_json(pod: Pod) -> Value {
    match pod {
        Pod::Null => Value::Null,
        Pod::String(s) => Value::String(s),
        Pod::Integer(i) => Value::from(i),
        Pod::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        Pod::Boolean(b) => Value::Bool(b),
        Pod::Array(items) => Value::Array(items.into_iter().map(pod_to_json).collect()),
        Pod::Hash(map) => {
            // gray_matter's HashMap order is random. serde_json's `Map` sorts by key as long as
            // no crate turns on its `preserve_order` feature; sorting here keeps the order of
            // properties (in `fetch` output and the index) by key even if one does.
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, pod_to_json(v)))
                    .collect(),
            )
        }
    }
}

/// A property read as a list of strings: a list, or a string split on commas (and on whitespace
/// when `split_spaces`, as Obsidian does for tags). Anything else yields `Err(kind)`.
pub fn string_list(value: &Value, split_spaces: bool) -> Result<Vec<String>, &'static str> {
    let split = |s: &str| -> Vec<String> {
        s.split(|c: char| c == ',' || (split_spaces && c.is_whitespace()))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    };
    match value {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(split(s)),
        Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                match item {
                    Value::String(s) => out.extend(split(s)),
                    Value::Number(n) => out.push(n.to_string()),
                    Value::Null => {}
                    other => return Err(kind(other)),
                }
            }
            Ok(out)
        }
        other => Err(kind(other)),
    }
}

/// A scalar property as text (strings, numbers, booleans), for titles, ids and dates.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_fences() {
        let s = split("---\ntitle: A\n---\n# Body\n");
        assert_eq!(s.yaml, Some("title: A\n"));
        assert_eq!(s.body, "# Body\n");
        assert!(!s.unclosed);

        let s = split("---\ntitle: A\nno close\n");
        assert_eq!(s.yaml, None);
        assert!(s.unclosed);
        assert_eq!(s.body, "---\ntitle: A\nno close\n");

        let s = split("\u{feff}---\r\na: 1\r\n---\r\nx");
        assert_eq!(s.yaml, Some("a: 1\r\n"));
        assert_eq!(s.body, "x");

        let s = split("# No frontmatter\n---\n");
        assert_eq!(s.yaml, None);
        assert!(!s.unclosed);

        let s = split("---\n---\nbody");
        assert_eq!(s.yaml, Some(""));
        assert_eq!(s.body, "body");

        let s = split("---\na: 1\n---");
        assert_eq!(s.yaml, Some("a: 1\n"));
        assert_eq!(s.body, "");
    }

    #[test]
    fn yaml_errors_are_sentences() {
        assert!(
            parse_yaml("title: [unclosed")
                .unwrap_err()
                .starts_with("frontmatter is not valid YAML")
        );
        assert_eq!(
            parse_yaml("- a\n- b").unwrap_err(),
            "frontmatter is a list rather than a set of properties"
        );
        let map = parse_yaml("b: 1\na: [x, y]\nc: 2024-03-05").unwrap();
        assert_eq!(map.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(map["c"], Value::String("2024-03-05".into()));
    }

    #[test]
    fn lists_are_lenient() {
        let v = |s: &str| serde_json::from_str::<Value>(s).unwrap();
        assert_eq!(string_list(&v(r#""a, b""#), false).unwrap(), ["a", "b"]);
        assert_eq!(string_list(&v(r#""a b""#), true).unwrap(), ["a", "b"]);
        assert_eq!(
            string_list(&v(r#"["x", 2, null]"#), false).unwrap(),
            ["x", "2"]
        );
        assert_eq!(string_list(&v("42"), true), Err("number"));
        assert_eq!(string_list(&v(r#"{"a":"b"}"#), true), Err("mapping"));
    }
}
