//! `POST /register` (RFC 7591): redirect URIs that must never be registered, oversized
//! requests, floods, and metadata asking for what this server does not do.

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::auth_support::{Env, Options};
use crate::{REDIRECT, assert_oauth};

/// Each URI is refused alone, and the first also when it hides behind a good one. (At most
/// 19 URIs: the registration limit is 20 a burst per address.)
async fn refused_uris(env: &Env, uris: &[&str]) {
    assert!(uris.len() < 20);
    for bad in uris {
        let body = json!({"redirect_uris": [bad], "token_endpoint_auth_method": "none"});
        assert_oauth(
            env.register_raw(&body).await,
            400,
            "invalid_redirect_uri",
            bad,
        );
    }
    let body = json!({"redirect_uris": [REDIRECT, uris[0]], "token_endpoint_auth_method": "none"});
    assert_oauth(
        env.register_raw(&body).await,
        400,
        "invalid_redirect_uri",
        uris[0],
    );
}

#[tokio::test]
async fn script_and_data_schemes_in_any_spelling_are_refused() {
    let env = Env::start(Options::default()).await;
    refused_uris(
        &env,
        &[
            "JavaScript:alert(1)",
            "JAVASCRIPT:alert(1)//https://app.example/cb",
            " javascript:alert(1)",
            "\tjavascript:alert(1)",
            "java\nscript:alert(1)",
            "javascript://app.example/%0aalert(1)",
            "DaTa:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
            "vbscript:msgbox(1)",
            "about:blank",
            "blob:https://app.example/uuid",
            "filesystem:https://app.example/temporary/x",
        ],
    )
    .await;
}

#[tokio::test]
async fn private_use_schemes_are_refused() {
    // This server serves web and loopback clients only; an app scheme could be claimed by any
    // app on the device (RFC 8252 §8.4).
    let env = Env::start(Options::default()).await;
    refused_uris(
        &env,
        &[
            "com.example.app:/oauth/callback",
            "myapp://callback",
            "ms-app://s-1-15-2-1",
            "cursor://anysphere.cursor-retrieval/oauth/callback",
            "intent://callback#Intent;scheme=https;end",
            "urn:ietf:wg:oauth:2.0:oob",
        ],
    )
    .await;
}

#[tokio::test]
async fn redirect_uris_with_credentials_are_refused() {
    let env = Env::start(Options::default()).await;
    refused_uris(
        &env,
        &[
            "https://user:pw@app.example/cb",
            "https://app.example@evil.example/cb",
            "https://user@app.example/cb",
            "http://127.0.0.1:9999@evil.example/cb",
            "http://user@127.0.0.1:9999/cb",
        ],
    )
    .await;
}

#[tokio::test]
async fn non_loopback_http_lookalikes_are_refused() {
    let env = Env::start(Options::default()).await;
    refused_uris(
        &env,
        &[
            "http://localhost.evil.example/cb",
            "http://127.0.0.1.nip.io/cb",
            "http://evil.example/127.0.0.1/cb",
            "http://[::ffff:7f00:1]/cb",
            "http://0.0.0.0/cb",
            "http://10.0.0.1/cb",
            "HTTP://evil.example/cb",
            "http:evil.example/cb",
            "http:///cb",
            "//evil.example/cb",
            "/relative/cb",
        ],
    )
    .await;
}

#[tokio::test]
async fn oversized_registrations_are_refused() {
    let env = Env::start(Options::default()).await;
    // Over the 1 MiB body limit: refused before any parsing.
    let big = json!({"redirect_uris": [REDIRECT], "client_name": "x".repeat(2 << 20)});
    let (s, _) = env.register_raw(&big).await;
    assert_eq!(s, 413, "a 2 MiB registration");
    // The same without Content-Length (chunked): the limit holds while reading.
    let body = big.to_string();
    let mut stream = tokio::net::TcpStream::connect(env.addr).await.unwrap();
    let head = format!(
        "POST /register HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        env.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.as_bytes().chunks(64 * 1024) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if stream.write_all(&framed).await.is_err() {
            break; // the server may answer and close before the whole body is sent
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.starts_with("HTTP/1.1 413"),
        "chunked: {}",
        response.lines().next().unwrap_or("")
    );
    // Too many redirect URIs, or one too long.
    let many: Vec<String> = (0..11)
        .map(|i| format!("http://127.0.0.1:{}/cb", 1000 + i))
        .collect();
    assert_oauth(
        env.register_raw(&json!({"redirect_uris": many, "token_endpoint_auth_method": "none"}))
            .await,
        400,
        "invalid_redirect_uri",
        "11 redirect URIs",
    );
    let long = format!("https://app.example/{}", "a".repeat(2000));
    assert_oauth(
        env.register_raw(&json!({"redirect_uris": [long], "token_endpoint_auth_method": "none"}))
            .await,
        400,
        "invalid_redirect_uri",
        "a 2 KB redirect URI",
    );
    // A huge name under the body limit is cut, so it cannot flood the consent page.
    let (s, reg) = env
        .register_raw(&json!({"redirect_uris": [REDIRECT], "client_name": "N".repeat(100_000), "token_endpoint_auth_method": "none"}))
        .await;
    assert_eq!(s, 201);
    assert_eq!(reg["client_name"].as_str().unwrap().len(), 100);
}

#[tokio::test]
async fn registration_flood_behind_spoofed_forwarded_for_is_still_limited() {
    // Without VAULTMCP_TRUST_FORWARDED_FOR the header is the client's own words: ignored.
    let env = Env::start(Options::default()).await;
    let body = json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"});
    let mut statuses = Vec::new();
    // 20 a burst, refilled at one per 5 s: within 40 requests one must be refused.
    for i in 0..40 {
        let r = env
            .browser
            .http
            .post(env.url("/register"))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .header("x-real-ip", format!("198.51.100.{i}"))
            .header("forwarded", format!("for=192.0.2.{i}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let retry = r.headers().get("retry-after").cloned();
        let v: Value = r.json().await.unwrap();
        statuses.push(status);
        if status != 201 {
            assert_oauth(
                (status, v),
                429,
                "temporarily_unavailable",
                "a registration flood",
            );
            assert!(retry.is_some(), "429 says when to retry");
            break;
        }
    }
    assert!(
        statuses.len() > 20 && statuses.last() == Some(&429),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn metadata_for_grants_and_methods_this_server_lacks_is_refused() {
    let env = Env::start(Options::default()).await;
    for extra in [
        json!({"grant_types": ["implicit"]}),
        json!({"grant_types": ["authorization_code", "password"]}),
        json!({"grant_types": ["client_credentials"]}),
        json!({"grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer"]}),
        json!({"response_types": ["token"]}),
        json!({"response_types": ["code", "code id_token"]}),
        json!({"token_endpoint_auth_method": "private_key_jwt"}),
        json!({"token_endpoint_auth_method": "client_secret_jwt"}),
        json!({"token_endpoint_auth_method": "tls_client_auth"}),
        json!({"scope": "notes:read notes:write"}),
        json!({"grant_types": "authorization_code"}),
    ] {
        let mut body = json!({"redirect_uris": [REDIRECT]});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        assert_oauth(
            env.register_raw(&body).await,
            400,
            "invalid_client_metadata",
            &extra.to_string(),
        );
    }
}

#[tokio::test]
async fn malformed_registration_bodies_are_refused() {
    let env = Env::start(Options::default()).await;
    let raw = |body: &'static str| {
        let req = env
            .browser
            .http
            .post(env.url("/register"))
            .header("content-type", "application/json")
            .body(body);
        async move {
            let r = req.send().await.unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    for body in [
        "",
        "not json",
        "[]",
        "\"https://app.example/cb\"",
        "null",
        r#"{"redirect_uris": ["http://127.0.0.1:9999/callback"]"#,
    ] {
        assert_oauth(raw(body).await, 400, "invalid_client_metadata", body);
    }
    for body in [
        r#"{}"#,
        r#"{"redirect_uris": "http://127.0.0.1:9999/callback"}"#,
        r#"{"redirect_uris": []}"#,
        r#"{"redirect_uris": [42]}"#,
        r#"{"redirect_uris": [null]}"#,
    ] {
        assert_oauth(raw(body).await, 400, "invalid_redirect_uri", body);
    }
}

#[tokio::test]
async fn registration_flood_behind_a_trusted_proxy_keys_on_the_last_hop() {
    // Behind a trusted proxy the client writes the first X-Forwarded-For entries and the proxy
    // appends the real address; a new made-up first hop per request must not buy a new bucket
    // (the regression test of issue 9's forwarded-for fix, through the router).
    let env = Env::start(Options {
        trust_forwarded_for: true,
        ..Options::default()
    })
    .await;
    let body = json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"});
    let register = |xff: String| {
        let req = env
            .browser
            .http
            .post(env.url("/register"))
            .header("x-forwarded-for", xff)
            .json(&body);
        async move {
            let r = req.send().await.unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let mut refused = None;
    for i in 0..40 {
        let (s, v) = register(format!("198.51.100.{i}, 203.0.113.7")).await;
        if s != 201 {
            refused = Some((s, v));
            break;
        }
    }
    let refused = refused.expect("40 registrations from one real address, none refused");
    assert_oauth(
        refused,
        429,
        "temporarily_unavailable",
        "the flood is limited",
    );
    // Another real address (last hop) has its own bucket.
    let (s, _) = register("198.51.100.1, 203.0.113.8".into()).await;
    assert_eq!(s, 201, "another client behind the same proxy");
}
