//! Request headers an attacker controls: `Host`, `X-Forwarded-Host`, `X-Forwarded-Proto`,
//! `Forwarded` never move the issuer, the metadata URLs, the GitHub callback or `iss`
//! (a Host-header attack would send codes elsewhere), a foreign `Host` is refused, and nothing
//! from a request is copied into `WWW-Authenticate`.

use serde_json::Value;

use crate::REDIRECT;
use crate::auth_support::{Env, Options, Pkce, parse_form, query};

/// Headers that try to make the server believe it lives elsewhere. The Host is a loopback
/// name the Host guard accepts (so the request gets through), but not the public URL's.
fn spoofing(env: &Env) -> Vec<(&'static str, String)> {
    vec![
        ("host", format!("localhost:{}", env.addr.port())),
        ("x-forwarded-host", "evil.example".into()),
        ("x-forwarded-proto", "https".into()),
        ("x-forwarded-port", "443".into()),
        ("x-forwarded-prefix", "/evil".into()),
        ("x-original-host", "evil.example".into()),
        ("forwarded", "host=evil.example;proto=https".into()),
    ]
}

async fn get_json(env: &Env, path: &str, headers: &[(&'static str, String)]) -> Value {
    let mut req = env.browser.http.get(env.url(path));
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

#[tokio::test]
async fn spoofed_host_headers_never_change_the_issuer_or_metadata() {
    let env = Env::start(Options::default()).await;
    let h = spoofing(&env);
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let plain = get_json(&env, path, &[]).await;
        let spoofed = get_json(&env, path, &h).await;
        assert_eq!(plain, spoofed, "{path}");
        let text = spoofed.to_string();
        assert!(
            !text.contains("evil") && !text.contains("localhost"),
            "{path}: {text}"
        );
    }
    let asm = get_json(&env, "/.well-known/oauth-authorization-server", &h).await;
    assert_eq!(asm["issuer"], env.base.as_str());
    // The 401 challenge names our metadata, not the spoofed host's.
    let mut req = env
        .browser
        .http
        .post(env.url("/mcp"))
        .json(&serde_json::json!({}));
    for (k, v) in &h {
        req = req.header(*k, v);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        format!(
            r#"Bearer resource_metadata="{}/.well-known/oauth-protected-resource/mcp", scope="notes:read""#,
            env.base
        )
        .as_str()
    );
}

#[tokio::test]
async fn spoofed_host_headers_never_change_the_github_callback_or_iss() {
    let env = Env::start(Options::default()).await;
    let h = spoofing(&env);
    let c = env.register(REDIRECT).await;
    let with = |req: reqwest::RequestBuilder| h.iter().fold(req, |r, (k, v)| r.header(*k, v));
    let page = with(
        env.browser
            .http
            .get(env.authorize_url(&c, &Pkce::new(), &[])),
    )
    .send()
    .await
    .unwrap();
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mut form = parse_form(&page.text().await.unwrap());
    form.insert("decision".into(), "approve".into());
    let r = with(env.browser.http.post(env.url("/authorize")))
        .header("cookie", &cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let login_cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let to_github = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        query(&to_github)["redirect_uri"],
        env.url("/oauth/github/callback")
    );
    let gh = env.browser.get(to_github.as_str()).await;
    let back = with(env.browser.http.get(gh.location.unwrap()))
        .header("cookie", &login_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 302);
    let to_client = url::Url::parse(back.headers()["location"].to_str().unwrap()).unwrap();
    assert!(to_client.as_str().starts_with(REDIRECT));
    let q = query(&to_client);
    assert_eq!(
        q.get("iss"),
        Some(&env.base),
        "RFC 9207 iss is the issuer, not the Host"
    );
    assert!(q.contains_key("code"));
}

#[tokio::test]
async fn foreign_host_is_refused_in_github_mode() {
    let env = Env::start(Options::default()).await;
    for host in [
        "evil.example",
        "notes.example.com",
        "127.0.0.1.evil.example",
        "localhost.evil.example",
        "evil.example:80",
        "127.0.0.1@evil.example",
    ] {
        for (method, path) in [
            ("GET", "/.well-known/oauth-authorization-server"),
            ("GET", "/authorize"),
            ("POST", "/token"),
            ("POST", "/register"),
            ("GET", "/oauth/github/callback"),
        ] {
            let r = env
                .browser
                .http
                .request(method.parse().unwrap(), env.url(path))
                .header("host", host)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403, "{host} {method} {path}");
        }
    }
}

#[tokio::test]
async fn www_authenticate_never_echoes_request_values() {
    let env = Env::start(Options::default()).await;
    let meta = format!("{}/.well-known/oauth-protected-resource/mcp", env.base);
    let invalid = format!(
        r#"Bearer resource_metadata="{meta}", scope="notes:read", error="invalid_token", error_description="the access token is invalid or expired""#
    );
    for (path, auth) in [
        ("/mcp", r#"Bearer x", error="none", realm="evil"#),
        ("/mcp", "Bearer \"><script>"),
        (
            "/mcp",
            "Bearer a.b.c, resource_metadata=\"https://evil.example\"",
        ),
        ("/mcp?resource_metadata=https://evil.example", "Bearer evil"),
    ] {
        let r = env
            .browser
            .http
            .post(env.url(path))
            .header("authorization", auth)
            .header("x-forwarded-host", "evil.example\", error=\"x")
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path} {auth}");
        assert_eq!(
            r.headers()["www-authenticate"],
            invalid.as_str(),
            "{path} {auth}"
        );
    }
    // The token endpoint's Basic challenge is fixed too.
    let r = env
        .browser
        .http
        .post(env.url("/token"))
        .header("authorization", "Basic ZXZpbCIsIHJlYWxtPSJ4Ijpw") // evil", realm="x":p
        .form(&[("grant_type", "authorization_code"), ("code", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], r#"Basic realm="vaultmcp""#);
}
