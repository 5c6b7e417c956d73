//! Client ID Metadata Documents: anyone can make the server fetch a URL by naming it as a
//! `client_id`, so every attack here is about what the fetch must refuse (loopback in any
//! spelling, IPv4-mapped IPv6, redirects, oversized and slow bodies) and what a document may
//! not say (secrets, bad redirect URIs), and that the error is one sentence whatever the
//! network did: no port-scanning oracle.
//!
//! Every target is on 127.0.0.1 (the [`DocHost`] stand-in counts connections), so a guard that
//! failed would show up as a connection and never as traffic off this machine. Private ranges
//! (10/8, 172.16/12, 192.168/16, 169.254/16) are covered by the guard's unit test
//! (`auth::fetch::tests::ssrf_guard_addresses`), not here: a regression would send packets to
//! them.

use serde_json::{Value, json};

use crate::auth_support::documents::{Answer, DocHost, closed_port};
use crate::auth_support::{Client, Env, Options, Pkce};
use crate::{REDIRECT, assert_page};

fn loopback_fetch() -> Options {
    Options {
        allow_loopback_fetch: true,
        ..Options::default()
    }
}

fn client(id: &str) -> Client {
    Client {
        client_id: id.to_owned(),
        client_secret: None,
        redirect_uri: REDIRECT.into(),
    }
}

fn doc(id: &str) -> Value {
    json!({"client_id": id, "client_name": "Doc App", "redirect_uris": [REDIRECT]})
}

/// GET /authorize for a metadata-document client; the page.
async fn authorize(env: &Env, id: &str) -> crate::auth_support::Page {
    env.browser
        .get(&env.authorize_url(&client(id), &Pkce::new(), &[]))
        .await
}

#[tokio::test]
async fn loopback_in_any_spelling_is_never_fetched() {
    // The production setting: no loopback fetches at all.
    let env = Env::start(Options::default()).await;
    let host = DocHost::start().await;
    let p = host.port;
    host.serve("/c.json", Answer::Json(doc("unused")));
    for id in [
        format!("https://127.0.0.1:{p}/c.json"),
        format!("https://localhost:{p}/c.json"),
        format!("https://[::ffff:127.0.0.1]:{p}/c.json"),
        format!("https://[::ffff:7f00:1]:{p}/c.json"),
        format!("https://[0:0:0:0:0:ffff:7f00:1]:{p}/c.json"),
        format!("https://2130706433:{p}/c.json"),
        format!("https://0x7f000001:{p}/c.json"),
        format!("https://0177.0.0.1:{p}/c.json"),
        format!("https://127.1:{p}/c.json"),
        format!("https://0.0.0.0:{p}/c.json"),
        format!("https://[::]:{p}/c.json"),
        format!("https://[::1]:{p}/c.json"),
    ] {
        let r = authorize(&env, &id).await;
        assert_page(&r, 400, "invalid_client", &id);
    }
    assert_eq!(host.connections(), 0, "the guard refused before connecting");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let env = Env::start(loopback_fetch()).await;
    let host = DocHost::start().await;
    let target = format!("{}/real.json", host.base);
    for (path, status) in [
        ("/s301.json", 301),
        ("/s302.json", 302),
        ("/s307.json", 307),
        ("/s308.json", 308),
    ] {
        let id = format!("{}{path}", host.base);
        // Were the redirect followed, the target would be a valid document for this id.
        host.serve("/real.json", Answer::Json(doc(&id)));
        host.serve(path, Answer::Redirect(status, target.clone()));
        let r = authorize(&env, &id).await;
        assert_page(&r, 400, "invalid_client", path);
        assert_eq!(host.hits(path), 1, "{path} fetched once");
    }
    assert_eq!(
        host.hits("/real.json"),
        0,
        "the redirect target was never fetched"
    );
}

#[tokio::test]
async fn oversized_documents_are_refused_with_or_without_a_length() {
    let env = Env::start(loopback_fetch()).await;
    let host = DocHost::start().await;
    for (path, content_length) in [("/announced.json", true), ("/chunked.json", false)] {
        let id = format!("{}{path}", host.base);
        // A valid document, padded past 16 KiB: only the size limit can refuse it.
        let mut d = doc(&id);
        d["padding"] = json!("x".repeat(20 * 1024));
        host.serve(
            path,
            Answer::Large {
                json: d,
                content_length,
            },
        );
        let r = authorize(&env, &id).await;
        assert_page(&r, 400, "invalid_client", path);
        // One uniform sentence (no oracle); the log says it was the size.
        assert!(r.body.contains("cannot be fetched"), "{}", r.body);
    }
    // Just under the limit is a working client.
    let id = format!("{}/fits.json", host.base);
    let mut d = doc(&id);
    d["padding"] = json!("x".repeat(10 * 1024));
    host.serve(
        "/fits.json",
        Answer::Large {
            json: d,
            content_length: false,
        },
    );
    assert_eq!(authorize(&env, &id).await.status, 200);
}

#[tokio::test]
async fn slow_document_is_given_up() {
    // One byte every 100 ms: the whole fetch has 5 s, so a valid document that would take
    // ~10 s to arrive is refused (and the request does not hang for the attacker's time).
    let env = Env::start(loopback_fetch()).await;
    let host = DocHost::start().await;
    let id = format!("{}/slow.json", host.base);
    host.serve("/slow.json", Answer::Slow(doc(&id)));
    let r = authorize(&env, &id).await;
    assert_page(&r, 400, "invalid_client", "slow body");
    assert!(r.body.contains("cannot be fetched"), "{}", r.body);
}

#[tokio::test]
async fn network_failures_are_one_uniform_error() {
    // Closed port, a service that is not HTTP, an address the guard refuses: the person (and
    // an attacker probing ports through us) reads the same page.
    let env = Env::start(loopback_fetch()).await;
    let host = DocHost::start().await;
    host.serve("/banner.json", Answer::Banner);
    let closed = closed_port().await;
    let ids = [
        format!("http://127.0.0.1:{closed}/c.json"),
        format!("{}/banner.json", host.base),
        format!("https://0.0.0.0:{}/c.json", host.port),
        format!("https://[::ffff:0.0.0.0]:{}/c.json", host.port),
    ];
    let mut bodies = Vec::new();
    for id in &ids {
        let r = authorize(&env, id).await;
        assert_page(&r, 400, "invalid_client", id);
        bodies.push(r.body);
    }
    for (id, b) in ids.iter().zip(&bodies) {
        assert_eq!(b, &bodies[0], "{id} answers differently from {}", ids[0]);
    }
    assert!(bodies[0].contains("cannot be fetched"), "{}", bodies[0]);
}

#[tokio::test]
async fn documents_with_secrets_are_refused() {
    // A published document has no secret; one that claims a secret method is refused, and the
    // page never repeats the "secret".
    let env = Env::start(loopback_fetch()).await;
    let host = DocHost::start().await;
    let extras = [
        json!({"client_secret": "s3cret-in-doc"}),
        json!({"token_endpoint_auth_method": "client_secret_basic", "client_secret": "s3cret-in-doc"}),
        json!({"token_endpoint_auth_method": "client_secret_post"}),
        json!({"token_endpoint_auth_method": "client_secret_jwt"}),
        json!({"token_endpoint_auth_methods_supported": ["none", "client_secret_basic"]}),
    ];
    for (i, extra) in extras.iter().enumerate() {
        let path = format!("/secret{i}.json");
        let id = format!("{}{path}", host.base);
        let mut d = doc(&id);
        for (k, v) in extra.as_object().unwrap() {
            d[k] = v.clone();
        }
        host.serve(&path, Answer::Json(d));
        let r = authorize(&env, &id).await;
        assert_page(&r, 400, "invalid_client", &extra.to_string());
        assert!(!r.body.contains("s3cret"), "{}", r.body);
        // Nor can the secret be used at /token.
        let (s, e) = env
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("client_id", &id),
                ("client_secret", "s3cret-in-doc"),
                ("code_verifier", &Pkce::new().verifier),
            ])
            .await;
        crate::assert_oauth((s, e), 401, "invalid_client", &extra.to_string());
    }
}

#[tokio::test]
async fn documents_with_dangerous_redirect_uris_are_refused() {
    let env = Env::start(loopback_fetch()).await;
    let host = DocHost::start().await;
    for (i, uri) in [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "http://evil.example/cb",
        "https://app.example/cb#frag",
        "https://user:pw@app.example/cb",
        "com.example.app:/cb",
    ]
    .iter()
    .enumerate()
    {
        let path = format!("/redir{i}.json");
        let id = format!("{}{path}", host.base);
        host.serve(
            &path,
            Answer::Json(json!({"client_id": id, "redirect_uris": [REDIRECT, uri]})),
        );
        let r = authorize(&env, &id).await;
        assert_page(&r, 400, "invalid_client", uri);
    }
}

#[tokio::test]
async fn client_id_urls_with_dot_segments_or_no_path_are_not_fetched() {
    let env = Env::start(loopback_fetch()).await;
    let host = DocHost::start().await;
    host.serve("/c.json", Answer::Json(doc("unused")));
    let b = &host.base;
    for id in [
        format!("{b}/a/../c.json"),
        format!("{b}/./c.json"),
        format!("{b}/"),
        b.clone(),
        format!("{b}/c.json#frag"),
        format!("http://user:pw@127.0.0.1:{}/c.json", host.port),
    ] {
        let r = authorize(&env, &id).await;
        assert_page(&r, 400, "invalid_client", &id);
    }
    assert_eq!(host.connections(), 0, "none of them was fetched");
}
