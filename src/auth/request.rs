//! The data an authorization carries from `/authorize` through consent and GitHub to the
//! code: the validated request and who signed in. Plain types, no behaviour.

use serde::{Deserialize, Serialize};

/// A validated authorization request, carried through consent and GitHub.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthzRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge: String,
    pub resource: String,
    pub scope: String,
}

/// Who signed in.
#[derive(Debug, Clone)]
pub struct Identity {
    pub sub: String,
    pub login: String,
    pub github_id: Option<u64>,
}

impl Identity {
    pub fn local() -> Identity {
        Identity {
            sub: "local".into(),
            login: "local".into(),
            github_id: None,
        }
    }
}
