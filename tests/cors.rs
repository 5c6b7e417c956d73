//! CORS on the MCP routes for browser-based clients, over real HTTP against an in-process
//! server: preflights need no token and are answered for exactly the origins the Origin check
//! accepts (plus `VAULTMCP_ALLOWED_ORIGINS`), real responses (the 401 included) expose
//! `Mcp-Session-Id` and `WWW-Authenticate`, and a foreign origin gets a 403 without a single
//! `Access-Control-*` header. (tests/e2e/browser.test.mjs checks the same in Chromium.)

mod support;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use support::mcp::{LATEST, TestServer, initialize};
use vaultmcp::config::{CommonArgs, Config, ServeArgs};

const APP: &str = "https://app.example.com";
const ALLOW_HEADERS: &str = "authorization,content-type,mcp-protocol-version,mcp-session-id,mcp-method,mcp-name,last-event-id";
const EXPOSE_HEADERS: &str = "mcp-session-id,www-authenticate";

/// A server in `--local-login` mode (tokens required) with [`APP`] listed as an allowed origin.
async fn server(serve: ServeArgs, origins: &[&str]) -> TestServer {
    let origins: Vec<String> = origins.iter().map(|o| (*o).to_owned()).collect();
    TestServer::start(&support::fixtures(), None, serve, move |c| {
        c.allowed_origins = origins;
    })
    .await
}

fn local_login() -> ServeArgs {
    ServeArgs {
        local_login: true,
        ..ServeArgs::default()
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap())
}

fn no_cors_headers(h: &HeaderMap, what: &str) {
    let cors: Vec<&str> = h
        .keys()
        .map(|k| k.as_str())
        .filter(|k| k.starts_with("access-control-"))
        .collect();
    assert!(cors.is_empty(), "{what}: {cors:?}");
}

async fn preflight(t: &TestServer, path: &str, origin: &str) -> reqwest::Response {
    t.http
        .request(reqwest::Method::OPTIONS, format!("{}{path}", t.base))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,mcp-protocol-version,mcp-method,mcp-name",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_needs_no_token_for_accepted_origins() {
    let t = server(local_login(), &[APP]).await;
    for origin in [
        APP,
        "https://chatgpt.com",
        "https://claude.ai",
        "http://localhost:6274",
        "http://127.0.0.1:5173",
        t.base.as_str(),
    ] {
        for path in ["/mcp", "/"] {
            let r = preflight(&t, path, origin).await;
            let what = format!("OPTIONS {path} from {origin}");
            assert_eq!(r.status(), StatusCode::OK, "{what}");
            let h = r.headers();
            assert_eq!(
                header(h, "access-control-allow-origin"),
                Some(origin),
                "{what}"
            );
            assert_eq!(
                header(h, "access-control-allow-methods"),
                Some("GET,POST,DELETE"),
                "{what}"
            );
            assert_eq!(
                header(h, "access-control-allow-headers"),
                Some(ALLOW_HEADERS),
                "{what}"
            );
            assert_eq!(header(h, "access-control-max-age"), Some("600"), "{what}");
            assert!(
                header(h, "vary").is_some_and(|v| v.contains("origin")),
                "{what}: responses differ by Origin, caches must know"
            );
            // Tokens travel in Authorization, never as cookies: no credentials mode.
            assert_eq!(header(h, "access-control-allow-credentials"), None);
            assert!(h.get("www-authenticate").is_none(), "{what}: not a 401");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origin_gets_403_and_nothing_usable() {
    // Without the setting, the app's origin is as foreign as any other.
    let t = server(local_login(), &[]).await;
    for origin in [
        APP,
        "https://evil.example",
        "https://chatgpt.com.evil.example",
        "null",
    ] {
        for path in ["/mcp", "/"] {
            let r = preflight(&t, path, origin).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "OPTIONS {path} {origin}");
            no_cors_headers(r.headers(), &format!("OPTIONS {path} {origin}"));
            let r = t
                .post(path, &initialize(LATEST))
                .header("origin", origin)
                .header("authorization", "Bearer x")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "POST {path} {origin}");
            no_cors_headers(r.headers(), &format!("POST {path} {origin}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_401_challenge_is_readable_by_the_page() {
    let t = server(local_login(), &[APP]).await;
    for (path, metadata) in [
        ("/mcp", "/.well-known/oauth-protected-resource/mcp"),
        ("/", "/.well-known/oauth-protected-resource"),
    ] {
        let r = t
            .post(path, &initialize(LATEST))
            .header("origin", APP)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
        let h = r.headers();
        assert_eq!(header(h, "access-control-allow-origin"), Some(APP));
        assert_eq!(
            header(h, "access-control-expose-headers"),
            Some(EXPOSE_HEADERS),
            "{path}"
        );
        assert_eq!(h.get_all("access-control-expose-headers").iter().count(), 1);
        assert_eq!(
            header(h, "www-authenticate"),
            Some(
                format!(
                    r#"Bearer resource_metadata="{}{metadata}", scope="notes:read""#,
                    t.base
                )
                .as_str()
            )
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_id_is_readable_by_the_page() {
    let serve = ServeArgs {
        no_auth: true,
        ..ServeArgs::default()
    };
    let t = server(serve, &[APP]).await;
    let r = t
        .post("/mcp", &initialize(LATEST))
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers();
    assert!(h.get("mcp-session-id").is_some());
    assert_eq!(header(h, "access-control-allow-origin"), Some(APP));
    assert_eq!(
        header(h, "access-control-expose-headers"),
        Some(EXPOSE_HEADERS)
    );
    // The GET-without-session 405 is a real response too: the page can see why.
    let r = t
        .http
        .get(format!("{}/mcp", t.base))
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        header(r.headers(), "access-control-allow-origin"),
        Some(APP)
    );
}

#[test]
fn allowed_origins_flag_beats_file() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("config.toml");
    std::fs::write(
        &file,
        "allowed_origins = \"https://from-file.example, http://127.0.0.1:5173\"\n",
    )
    .unwrap();
    let common = CommonArgs {
        vault: Some(support::fixtures()),
        data_dir: Some(tmp.path().join("data")),
        config: Some(file.clone()),

        ..CommonArgs::default()
    };
    let from_file = Config::load_with(&common, &ServeArgs::default()).unwrap();
    assert_eq!(
        from_file.allowed_origins,
        ["https://from-file.example", "http://127.0.0.1:5173"]
    );
    let flag = ServeArgs {
        allowed_origins: Some("https://From-Flag.example/".into()),
        ..ServeArgs::default()
    };
    assert_eq!(
        Config::load_with(&common, &flag).unwrap().allowed_origins,
        ["https://from-flag.example"]
    );
    std::fs::write(&file, "allowed_origins = \"*\"\n").unwrap();
    let err = Config::load_with(&common, &ServeArgs::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("VAULTMCP_ALLOWED_ORIGINS"), "{err}");
}
