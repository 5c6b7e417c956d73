//! The vault on disk: which files are notes, how they are read, and how ids map to paths.
//!
//! Nothing here touches the network or the index. vaultmcp never writes into the vault.

mod dates;
mod frontmatter;
mod markdown;
mod note;
mod walk;

pub use dates::parse_date;
pub use markdown::{Heading, Link};
pub use note::{ParsedNote, parse_note};
pub use walk::{FileState, ReadError, Vault, VaultEntry};

/// Lower-cases a link target or name the way Obsidian compares them (case-insensitively).
pub fn link_key(s: &str) -> String {
    s.trim().to_lowercase()
}

/// The `obsidian://open` URL of a note id in a vault named `vault_name`.
pub fn obsidian_url(vault_name: &str, id: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    // Like JavaScript's encodeURIComponent, which is what Obsidian itself produces.
    const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'!')
        .remove(b'~')
        .remove(b'*')
        .remove(b'\'')
        .remove(b'(')
        .remove(b')');
    let file = id.strip_suffix(".md").unwrap_or(id);
    format!(
        "obsidian://open?vault={}&file={}",
        utf8_percent_encode(vault_name, COMPONENT),
        utf8_percent_encode(file, COMPONENT)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encodes_like_obsidian() {
        assert_eq!(
            obsidian_url("my vault", "research/2025-06-29/001-A b.md"),
            "obsidian://open?vault=my%20vault&file=research%2F2025-06-29%2F001-A%20b"
        );
        assert_eq!(
            obsidian_url("v", "café/ü+x.md"),
            "obsidian://open?vault=v&file=caf%C3%A9%2F%C3%BC%2Bx"
        );
    }
}
