//! `GET /oauth/github/callback`: GitHub's answer forged, replayed, carried to another browser,
//! GitHub failing, and a GitHub login taken over by someone else.

use crate::auth_support::{Browser, Env, Options, Pkce, query};
use crate::{REDIRECT, assert_client_error, assert_page};

/// Approves a consent page in `browser` and returns our callback URL as GitHub sends it back.
async fn callback_url(env: &Env, browser: &Browser) -> String {
    let c = env.register(REDIRECT).await;
    let page = browser.get(&env.authorize_url(&c, &Pkce::new(), &[])).await;
    let mut form = crate::auth_support::parse_form(&page.body);
    form.insert("decision".into(), "approve".into());
    let r = browser.post_form(&env.url("/authorize"), &form).await;
    assert_eq!(r.status, 303);
    let gh = browser.get(&r.location.unwrap()).await;
    gh.location.expect("GitHub sends the browser back")
}

#[tokio::test]
async fn callback_without_or_with_a_forged_state_is_refused() {
    let env = Env::start(Options::default()).await;
    let real = callback_url(&env, &env.browser).await;
    let u = url::Url::parse(&real).unwrap();
    let code = query(&u)["code"].clone();
    let cb = env.url("/oauth/github/callback");
    for (what, url) in [
        ("no state", format!("{cb}?code={code}")),
        ("empty state", format!("{cb}?code={code}&state=")),
        (
            "forged state",
            format!("{cb}?code={code}&state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ),
        ("repeated state", format!("{real}&state=x")),
    ] {
        let r = env.browser.get(&url).await;
        assert_page(&r, 400, "invalid_request", what);
    }
    assert!(
        env.gh.state.exchanged.lock().unwrap().is_empty(),
        "no GitHub code was exchanged for a refused callback"
    );
}

#[tokio::test]
async fn callback_replayed_after_success_is_refused() {
    let env = Env::start(Options::default()).await;
    let cb = callback_url(&env, &env.browser).await;
    // The attacker has both the callback URL and the browser's login cookie.
    let cookie = env.browser.cookies.lock().unwrap()["vaultmcp_login"].clone();
    let first = env.browser.get(&cb).await;
    assert_eq!(first.status, 302);
    assert!(query(&url::Url::parse(&first.location.unwrap()).unwrap()).contains_key("code"));
    let replay = env
        .browser
        .http
        .get(&cb)
        .header("cookie", format!("vaultmcp_login={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 400, "the pending login was single use");
    let body = replay.text().await.unwrap();
    assert_eq!(crate::auth_support::page_error(&body), "invalid_request");
    assert_eq!(
        env.gh.state.exchanged.lock().unwrap().len(),
        1,
        "GitHub's code was exchanged once"
    );
}

#[tokio::test]
async fn callback_with_another_pending_logins_cookie_is_refused() {
    // Two sign-ins in flight; the attacker's browser (its own valid cookie) cannot complete the
    // victim's, and vice versa.
    let env = Env::start(Options::default()).await;
    let (victim, attacker) = (Browser::new(), Browser::new());
    let victims = callback_url(&env, &victim).await;
    let attackers = callback_url(&env, &attacker).await;
    let r = attacker.get(&victims).await;
    assert_page(
        &r,
        400,
        "invalid_request",
        "victim's state, attacker's cookie",
    );
    let r = victim.get(&attackers).await;
    assert_page(
        &r,
        400,
        "invalid_request",
        "attacker's state, victim's cookie",
    );
}

#[tokio::test]
async fn github_user_api_failure_is_a_server_error_to_the_client() {
    let env = Env::start(Options::default()).await;
    for status in [500, 401, 403, 404] {
        env.gh.fail_user(status);
        let cb = callback_url(&env, &env.browser).await;
        let r = env.browser.get(&cb).await;
        assert_client_error(
            &env,
            &r,
            REDIRECT,
            "server_error",
            &format!("/user {status}"),
        );
        let q = query(&url::Url::parse(&r.location.unwrap()).unwrap());
        assert!(
            !q["error_description"].contains("gho_"),
            "no GitHub token in the error: {q:?}"
        );
    }
}

#[tokio::test]
async fn login_taken_over_after_pinning_the_id_is_denied() {
    // Allowed by login, alice (id 7) connects; the operator then pins her id as the log
    // advises. Someone who later registers the login "alice" (id 8) is denied, while alice's
    // own grant goes on.
    let mut env = Env::start(Options {
        allowed_ids: vec![],
        allowed_logins: vec!["alice".into()],
        gh_login: "alice".into(),
        gh_id: 7,
        ..Options::default()
    })
    .await;
    let (c, t) = env.tokens().await;
    let mut pinned = env.settings.clone();
    pinned.github.allowed_ids = vec![7];
    env.restart_with(pinned).await;
    env.gh.set_user("alice", 8);
    let back = env.approve(&env.authorize_url(&c, &Pkce::new(), &[])).await;
    let q = query(&back);
    assert_eq!(
        q.get("error").map(String::as_str),
        Some("access_denied"),
        "{q:?}"
    );
    assert!(!q.contains_key("code"));
    let (s, t2) = env.refresh(&c, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(s, 200, "alice's own grant: {t2}");
    assert_eq!(
        crate::auth_support::claims(t2["access_token"].as_str().unwrap())["sub"],
        "github:7"
    );
}
