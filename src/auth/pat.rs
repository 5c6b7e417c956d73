//! Personal access tokens: `vaultmcp token create NAME` prints one once; the store keeps only
//! its SHA-256 ([`store::pats`](super::store::pats)); the MCP routes accept it as a bearer token
//! with scope `notes:read` ([`bearer`](super::bearer)). A recognisable prefix lets secret
//! scanners and people tell what it is.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Every personal access token starts with this.
pub const PREFIX: &str = "vmcp_";

/// A new token: the prefix and 256 random bits.
pub fn generate() -> String {
    let mut b = [0u8; 32];
    rand::fill(&mut b);
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(b))
}

/// Token names: 1-64 letters, digits, `-`, `_`, `.` (they show in logs and the audit log).
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// `90d`, `12h`, `30m`, `3600s` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: i64 = num.parse().ok()?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(mult).filter(|v| *v > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_names() {
        let t = generate();
        assert!(t.starts_with("vmcp_"));
        // 32 bytes of randomness, base64url without padding.
        assert_eq!(URL_SAFE_NO_PAD.decode(&t[5..]).unwrap().len(), 32);
        assert_ne!(generate(), t);
        assert!(valid_name("ci-runner.2"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
        assert!(!valid_name("<script>"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90d"), Some(90 * 86_400));
        assert_eq!(parse_duration("12h"), Some(12 * 3600));
        assert_eq!(parse_duration("3600"), Some(3600));
        assert_eq!(parse_duration("2w"), Some(14 * 86_400));
        assert_eq!(parse_duration("0d"), None);
        assert_eq!(parse_duration("d"), None);
        assert_eq!(parse_duration("5y"), None);
    }
}
