//! Markdown bodies: plain text to index, headings, outgoing links and inline tags.

use pulldown_cmark::{Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd};
use serde::{Deserialize, Serialize};

/// A heading, with where its text starts in the plain text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heading {
    pub level: u8,
    pub text: String,
    /// Byte offset of the heading in `Markdown::text`.
    pub offset: usize,
}

/// An outgoing link as written: a wikilink, an embed or a markdown link to a vault file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The target without its `#heading` / `^block` part, as written (`folder/Note`, `Note.md`).
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    pub embed: bool,
    /// `true` for `[text](path)` links, whose target may be relative to the note's folder.
    pub markdown: bool,
}

/// What the indexer needs from a body.
#[derive(Debug, Default)]
pub struct Markdown {
    pub text: String,
    pub headings: Vec<Heading>,
    pub links: Vec<Link>,
    pub tags: Vec<String>,
    pub first_h1: Option<String>,
}

fn options() -> Options {
    // YAML metadata blocks stay off: frontmatter is stripped before, and with the option on a
    // `---` pair in the middle of a note would be swallowed.
    Options::ENABLE_WIKILINKS
        | Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
}

/// Parses a markdown body (frontmatter already removed).
pub fn parse(body: &str) -> Markdown {
    let mut out = Markdown::default();
    let mut heading: Option<(u8, String, usize)> = None;
    let mut link: Option<(Link, String)> = None;
    let mut in_code_block = false;

    for (event, range) in Parser::new_ext(body, options()).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                push_break(&mut out.text);
                heading = Some((level_num(level), String::new(), out.text.len()));
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, text, offset)) = heading.take() {
                    let text = text.trim().to_owned();
                    if level == 1 && out.first_h1.is_none() && !text.is_empty() {
                        out.first_h1 = Some(text.clone());
                    }
                    out.headings.push(Heading {
                        level,
                        text,
                        offset,
                    });
                }
                push_break(&mut out.text);
            }
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                ..
            }) => {
                link = make_link(link_type, &dest_url, false).map(|l| (l, String::new()));
            }
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                ..
            }) => {
                link = make_link(link_type, &dest_url, true).map(|l| (l, String::new()));
            }
            Event::End(TagEnd::Link | TagEnd::Image) => {
                if let Some((mut l, text)) = link.take() {
                    let text = text.trim();
                    if l.display.is_some() && !text.is_empty() {
                        l.display = Some(text.to_owned());
                    } else {
                        l.display = None;
                    }
                    out.links.push(l);
                }
            }
            Event::Start(Tag::CodeBlock(_)) => {
                in_code_block = true;
                push_break(&mut out.text);
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code_block = false;
                push_break(&mut out.text);
            }
            Event::Text(t) => {
                if !in_code_block {
                    // A text event can start mid-word or right after an escape (`\#not-a-tag`,
                    // `x\#y`): only a `#` at a word start in the source opens a tag.
                    let before = body.get(..range.start).and_then(|s| s.chars().next_back());
                    let starts_word = before.is_none_or(|c| c != '\\' && !c.is_alphanumeric());
                    collect_tags(&t, starts_word, &mut out.tags);
                }
                append(&mut out, &mut heading, &mut link, &t);
            }
            Event::Code(t) => append(&mut out, &mut heading, &mut link, &t),
            Event::SoftBreak | Event::HardBreak => append(&mut out, &mut heading, &mut link, " "),
            Event::End(
                TagEnd::Paragraph | TagEnd::Item | TagEnd::TableCell | TagEnd::BlockQuote(_),
            ) => {
                push_break(&mut out.text);
            }
            _ => {}
        }
    }
    out.tags.sort();
    out.tags.dedup();
    out
}

fn append(
    out: &mut Markdown,
    heading: &mut Option<(u8, String, usize)>,
    link: &mut Option<(Link, String)>,
    t: &str,
) {
    if let Some((_, h, _)) = heading.as_mut() {
        h.push_str(t);
    }
    if let Some((_, l)) = link.as_mut() {
        l.push_str(t);
    }
    out.text.push_str(t);
}

fn push_break(text: &mut String) {
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
}

fn level_num(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

fn make_link(link_type: LinkType, dest: &str, embed: bool) -> Option<Link> {
    let wikilink = matches!(link_type, LinkType::WikiLink { .. });
    let markdown = !wikilink;
    let dest = if markdown {
        // Markdown links to other notes are relative paths; anything with a scheme is the web.
        if dest.contains("://")
            || dest.starts_with("mailto:")
            || dest.starts_with('#')
            || dest.is_empty()
        {
            return None;
        }
        percent_encoding::percent_decode_str(dest)
            .decode_utf8_lossy()
            .into_owned()
    } else {
        dest.to_owned()
    };
    let (target, heading) = match dest.split_once('#') {
        Some((t, h)) => (
            t.trim().to_owned(),
            Some(h.trim().to_owned()).filter(|h| !h.is_empty()),
        ),
        None => (dest.trim().to_owned(), None),
    };
    let target = match target.split_once('^') {
        Some((t, _block)) => t.trim().to_owned(),
        None => target,
    };
    if target.is_empty() {
        return None;
    }
    // `display` marks links whose text is chosen by the author (piped wikilinks, markdown links);
    // the text itself is filled in when the link ends.
    let piped = matches!(link_type, LinkType::WikiLink { has_pothole: true });
    let display = (piped || markdown).then(String::new);
    Some(Link {
        target,
        heading,
        display,
        embed,
        markdown,
    })
}

/// Inline `#tags`: a `#` at the start or after whitespace, then letters, digits, `_`, `-` and `/`,
/// with at least one character that is not a digit (Obsidian's rule: `#1984` is not a tag).
/// `starts_word` tells whether the text's first character may start a tag.
fn collect_tags(text: &str, starts_word: bool, tags: &mut Vec<String>) {
    let mut prev_is_space = starts_word;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '#' && prev_is_space {
            let rest = &text[i + 1..];
            let end = rest
                .char_indices()
                .find(|&(_, ch)| !(ch.is_alphanumeric() || ch == '_' || ch == '-' || ch == '/'))
                .map_or(rest.len(), |(j, _)| j);
            let tag = rest[..end].trim_end_matches('/');
            if !tag.is_empty() && !tag.chars().all(|ch| ch.is_ascii_digit() || ch == '/') {
                tags.push(tag.to_owned());
            }
            prev_is_space = false;
            continue;
        }
        prev_is_space = c.is_whitespace() || c == '(' || c == ',';
        let _ = chars.peek();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_links_tags() {
        let md = parse(
            "# Title\n\nSee [[Other Note|the other]] and [[folder/Deep#Part two]] and ![[pic.png]].\n\n\
             ## Section\n\nA [md link](sub/Note%20B.md) and [web](https://example.com). #tag/nested #1984 \
             x#not and `#code-tag`\n\n```\n#not-a-tag\n```\n",
        );
        assert_eq!(md.first_h1.as_deref(), Some("Title"));
        assert_eq!(
            md.headings
                .iter()
                .map(|h| (h.level, h.text.as_str()))
                .collect::<Vec<_>>(),
            [(1, "Title"), (2, "Section")]
        );
        assert_eq!(
            &md.text[md.headings[1].offset..md.headings[1].offset + 7],
            "Section"
        );
        assert_eq!(md.tags, ["tag/nested"]);
        let targets: Vec<_> = md
            .links
            .iter()
            .map(|l| {
                (
                    l.target.as_str(),
                    l.heading.as_deref(),
                    l.display.as_deref(),
                    l.embed,
                )
            })
            .collect();
        assert_eq!(
            targets,
            [
                ("Other Note", None, Some("the other"), false),
                ("folder/Deep", Some("Part two"), None, false),
                ("pic.png", None, None, true),
                ("sub/Note B.md", None, Some("md link"), false),
            ]
        );
        assert!(md.text.contains("#not-a-tag"), "code stays searchable");
    }

    #[test]
    fn dashes_mid_note_are_not_frontmatter() {
        let md = parse("intro\n\n---\n\nmiddle\n\n---\n\nend");
        assert!(md.text.contains("middle"));
        assert!(md.text.contains("end"));
    }
}
