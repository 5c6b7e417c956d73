//! `POST /authorize` and the consent page: tampering with the hidden fields between the page
//! and the decision, the deny button as an open redirect, the double-submit CSRF check, markup
//! in what the page shows, framing.

use std::collections::HashMap;

use serde_json::json;

use crate::auth_support::{Browser, Env, Options, Pkce, parse_form};
use crate::{REDIRECT, assert_page};

async fn approved_form(env: &Env) -> HashMap<String, String> {
    let c = env.register(REDIRECT).await;
    let mut form = env
        .consent_form(&env.authorize_url(&c, &Pkce::new(), &[]))
        .await;
    form.insert("decision".into(), "approve".into());
    form
}

#[tokio::test]
async fn tampered_redirect_uri_between_consent_and_decision_is_refused() {
    let env = Env::start(Options::default()).await;
    let form = approved_form(&env).await;
    for bad in [
        "https://evil.example/cb",
        "http://127.0.0.1:9999/elsewhere",
        "javascript:alert(1)",
    ] {
        let mut f = form.clone();
        f.insert("redirect_uri".into(), bad.into());
        let r = env.browser.post_form(&env.url("/authorize"), &f).await;
        assert_page(&r, 400, "invalid_request", bad);
    }
    // The untouched form still goes on to GitHub: the refusals spent nothing.
    let r = env.browser.post_form(&env.url("/authorize"), &form).await;
    assert_eq!(r.status, 303);
    assert!(r.location.unwrap().starts_with(&env.gh.url));
}

#[tokio::test]
async fn deny_button_is_not_an_open_redirect() {
    let env = Env::start(Options::default()).await;
    let mut form = approved_form(&env).await;
    form.insert("decision".into(), "deny".into());
    for bad in ["https://evil.example/cb", "https://evil.example/cb#x"] {
        let mut f = form.clone();
        f.insert("redirect_uri".into(), bad.into());
        let r = env.browser.post_form(&env.url("/authorize"), &f).await;
        assert_page(&r, 400, "invalid_request", bad);
    }
    // Nor for a client that does not exist, with any redirect.
    let mut f = form.clone();
    f.insert("client_id".into(), "no-such-client".into());
    f.insert("redirect_uri".into(), "https://evil.example/cb".into());
    let r = env.browser.post_form(&env.url("/authorize"), &f).await;
    assert_page(&r, 400, "invalid_client", "unknown client, deny");
}

#[tokio::test]
async fn empty_csrf_cookie_and_empty_field_are_refused() {
    // Double submit must not accept "" == "".
    let env = Env::start(Options::default()).await;
    let mut form = approved_form(&env).await;
    form.insert("csrf_token".into(), String::new());
    let r = env
        .browser
        .http
        .post(env.url("/authorize"))
        .header("cookie", "vaultmcp_csrf=")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body = r.text().await.unwrap();
    assert_eq!(crate::auth_support::page_error(&body), "invalid_request");
}

#[tokio::test]
async fn attacker_chosen_csrf_pair_in_a_fresh_browser_is_refused() {
    // An attacker's own page and cookie are no use in the victim's browser: the victim's
    // cookie (set by their own visit) differs from the attacker's form token.
    let env = Env::start(Options::default()).await;
    let attacker_form = approved_form(&env).await;
    let victim = Browser::new();
    let c = env.register(REDIRECT).await;
    let r = victim.get(&env.authorize_url(&c, &Pkce::new(), &[])).await;
    assert_eq!(r.status, 200);
    let r = victim
        .post_form(&env.url("/authorize"), &attacker_form)
        .await;
    assert_page(
        &r,
        403,
        "invalid_request",
        "attacker's token, victim's cookie",
    );
}

#[tokio::test]
async fn reflected_state_is_escaped_on_the_consent_page() {
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let evil = r#""><script>alert(1)</script><input name="decision" value="approve"#;
    let r = env
        .browser
        .get(&env.authorize_url(&c, &Pkce::new(), &[("state", evil)]))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.body.contains("<script"), "{}", r.body);
    assert!(r.body.contains("&quot;&gt;&lt;script&gt;"), "{}", r.body);
    // The form round-trips the state exactly, and carries one decision pair only.
    assert_eq!(parse_form(&r.body)["state"], evil);
    assert_eq!(r.body.matches(r#"name="decision""#).count(), 2);
}

#[tokio::test]
async fn markup_in_client_name_is_escaped() {
    let env = Env::start(Options::default()).await;
    let name = r#"<img src=x onerror=alert(1)>"'&<b>ChatGPT</b>"#;
    let (status, reg) = env
        .register_raw(&json!({"client_name": name, "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}))
        .await;
    assert_eq!(status, 201, "{reg}");
    let c = crate::auth_support::Client {
        client_id: reg["client_id"].as_str().unwrap().into(),
        client_secret: None,
        redirect_uri: REDIRECT.into(),
    };
    let r = env
        .browser
        .get(&env.authorize_url(&c, &Pkce::new(), &[]))
        .await;
    assert_eq!(r.status, 200);
    assert!(
        !r.body.contains("<img") && !r.body.contains("<b>"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains(
            // maud escapes & < > " (a ' is harmless in content and in its double-quoted attributes).
            r#"<strong id="client-name">&lt;img src=x onerror=alert(1)&gt;&quot;'&amp;&lt;b&gt;ChatGPT&lt;/b&gt;</strong>"#
        ),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn error_pages_cannot_be_framed_or_cached() {
    let env = Env::start(Options::default()).await;
    let c = env.register(REDIRECT).await;
    let mut pages = vec![
        env.browser
            .get(&env.authorize_url(&c, &Pkce::new(), &[("client_id", "nope")]))
            .await,
        env.browser
            .get(&env.authorize_url(
                &c,
                &Pkce::new(),
                &[("redirect_uri", "https://evil.example/cb")],
            ))
            .await,
    ];
    pages.push(
        Browser::new()
            .post_form(&env.url("/authorize"), &HashMap::new())
            .await,
    );
    for p in &pages {
        assert!(p.status.is_client_error(), "{}", p.status);
        assert_eq!(p.headers["x-frame-options"], "DENY");
        let csp = p.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert_eq!(p.headers["cache-control"], "no-store");
    }
}

#[tokio::test]
async fn a_registered_client_named_like_a_trusted_one_shows_its_real_redirect_host() {
    // Anyone can register "ChatGPT"; the page must show where the code really goes, and that
    // this is a registration, not ChatGPT's metadata document.
    let env = Env::start(Options::default()).await;
    let (status, reg) = env
        .register_raw(&json!({"client_name": "ChatGPT", "redirect_uris": ["https://chatgpt.com.evil.example/connector/oauth/x"], "token_endpoint_auth_method": "none"}))
        .await;
    assert_eq!(status, 201, "{reg}");
    let c = crate::auth_support::Client {
        client_id: reg["client_id"].as_str().unwrap().into(),
        client_secret: None,
        redirect_uri: "https://chatgpt.com.evil.example/connector/oauth/x".into(),
    };
    let r = env
        .browser
        .get(&env.authorize_url(&c, &Pkce::new(), &[]))
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.body
            .contains(r#"<strong id="redirect-host">chatgpt.com.evil.example</strong>"#),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains(&format!("Client id: <code>{}</code></p>", c.client_id)),
        "{}",
        r.body
    );
    assert!(!r.body.contains("(metadata document)"));
}
