//! Who a client is: its id, name, redirect URIs and how it authenticates. Plain types that the
//! registration, metadata-document, key-set and assertion modules all share.

use jsonwebtoken::jwk::JwkSet;
use url::Url;

use super::redirect::redirect_matches;

/// A client the server knows, registered or described by a metadata document.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub client_name: Option<String>,
    pub redirect_uris: Vec<String>,
    /// How it authenticates at `/token` and `/revoke`.
    pub auth: ClientAuth,
    /// Described by a Client ID Metadata Document rather than registered here.
    pub metadata_document: bool,
}

/// How a client authenticates at the token and revocation endpoints.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// A public client (`none`): PKCE alone protects its codes.
    None,
    /// A registered confidential client: SHA-256 hex of its secret (`client_secret_basic` or
    /// `client_secret_post`).
    Secret { hash: String },
    /// RFC 7523 client assertions signed with these keys. `none_too`: the document also lists
    /// `none`, so a request without an assertion is treated as a public client's.
    PrivateKeyJwt { keys: KeySource, none_too: bool },
}

/// Where a `private_key_jwt` client's public keys are.
#[derive(Debug, Clone)]
pub enum KeySource {
    Uri(Url),
    Inline(JwkSet),
}

impl Client {
    /// A name to show on the consent page.
    pub fn display_name(&self) -> &str {
        self.client_name
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(&self.client_id)
    }

    /// The registered redirect URI that `requested` matches, if any.
    pub fn matching_redirect(&self, requested: &str) -> Option<&str> {
        self.redirect_uris
            .iter()
            .map(String::as_str)
            .find(|r| redirect_matches(r, requested))
    }

    /// The method name, as metadata and logs spell it.
    pub fn auth_method(&self) -> &'static str {
        match self.auth {
            ClientAuth::None => "none",
            ClientAuth::Secret { .. } => "client_secret_basic",
            ClientAuth::PrivateKeyJwt { .. } => "private_key_jwt",
        }
    }
}

/// Keeps a client name printable and short.
pub(crate) fn clean_name(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect::<String>()
        .trim()
        .to_owned()
}
