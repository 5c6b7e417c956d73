//! Human-readable output of the commands (JSON output is serde's).

use crate::index::{FetchedNote, Hit, ReindexReport};

pub fn print_report(r: &ReindexReport) {
    println!(
        "{} indexed, {} unchanged, {} removed, {} skipped, {} embedded in {:.2} s ({} notes in the index)",
        r.indexed,
        r.unchanged,
        r.removed,
        r.skipped.len(),
        r.embedded,
        r.seconds,
        r.notes
    );
    for s in &r.skipped {
        println!("  skipped {}: {}", s.path, s.reason);
    }
    for w in &r.warnings {
        println!("  warning {}: {}", w.path, w.reason);
    }
}

pub fn print_hits(hits: &[Hit]) {
    if hits.is_empty() {
        println!("no results");
    }
    for (i, h) in hits.iter().enumerate() {
        let heading = h
            .heading
            .as_deref()
            .map(|t| format!(" › {t}"))
            .unwrap_or_default();
        println!("{}. {}{}  [{:.2}]", i + 1, h.title, heading, h.score);
        println!("   {}", h.id);
        if !h.snippet.is_empty() {
            println!("   {}", h.snippet);
        }
        if !h.tags.is_empty() {
            println!("   #{}", h.tags.join(" #"));
        }
    }
}

pub fn print_note(n: &FetchedNote) {
    let m = &n.metadata;
    println!("# {}", n.title);
    println!("id: {}", n.id);
    println!("url: {}", n.url);
    if !m.tags.is_empty() {
        println!("tags: #{}", m.tags.join(" #"));
    }
    if !m.aliases.is_empty() {
        println!("aliases: {}", m.aliases.join(", "));
    }
    println!("created: {}  modified: {}", m.created, m.modified);
    let links: Vec<String> = m
        .links
        .iter()
        .map(|l| {
            l.id.clone()
                .unwrap_or_else(|| format!("{} (unresolved)", l.target))
        })
        .collect();
    if !links.is_empty() {
        println!("links: {}", links.join(", "));
    }
    if !m.backlinks.is_empty() {
        println!(
            "backlinks: {}",
            m.backlinks
                .iter()
                .map(|b| b.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(related) = m.related.as_ref().filter(|r| !r.is_empty()) {
        println!(
            "related: {}",
            related
                .iter()
                .map(|r| format!("{} ({})", r.title, r.id))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!();
    print!("{}", n.text);
    if !n.text.ends_with('\n') {
        println!();
    }
}
