//! The allow-list: who may sign in. With `GITHUB_ALLOWED_ID` set only those numeric ids get in
//! (logins can be renamed and re-registered by someone else); otherwise the logins in
//! `GITHUB_ALLOWED_LOGIN`, compared case-insensitively. Checked at sign-in, at every refresh
//! and on every bearer request.

use crate::config::GitHubConfig;

/// Whether a GitHub account may sign in.
pub fn is_allowed(gh: &GitHubConfig, id: u64, login: &str) -> bool {
    if !gh.allowed_ids.is_empty() {
        return gh.allowed_ids.contains(&id);
    }
    gh.allowed_logins
        .iter()
        .any(|l| l.eq_ignore_ascii_case(login))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gh(ids: &[u64], logins: &[&str]) -> GitHubConfig {
        GitHubConfig {
            client_id: None,
            client_secret: None,
            allowed_logins: logins.iter().map(|s| s.to_string()).collect(),
            allowed_ids: ids.to_vec(),
            web_url: "https://github.com".parse().unwrap(),
            api_url: "https://api.github.com".parse().unwrap(),
        }
    }

    #[test]
    fn allow_list() {
        assert!(is_allowed(&gh(&[], &["Alice"]), 1, "alice"));
        assert!(!is_allowed(&gh(&[], &["alice"]), 1, "bob"));
        assert!(is_allowed(&gh(&[42], &[]), 42, "anyone"));
        assert!(!is_allowed(&gh(&[42], &[]), 43, "alice"));
        // With ids configured, a matching login is not enough (renamed and re-registered).
        assert!(!is_allowed(&gh(&[42], &["alice"]), 99, "alice"));
        assert!(!is_allowed(&gh(&[], &[]), 1, "alice"));
    }
}
