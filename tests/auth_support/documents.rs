//! A stand-in web host for Client ID Metadata Documents (and key sets) that misbehaves on
//! purpose: a raw HTTP/1.1 server on 127.0.0.1, so that it can also answer what no well-behaved
//! framework would (a body larger than announced, one byte at a time, a banner that is not
//! HTTP), and count every connection, so a test can prove that the server never even connected.
//!
//! Every answer is bounded: the slow body stops after at most 30 s, connections are closed after
//! one answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the host answers a path.
#[derive(Clone)]
pub enum Answer {
    /// 200 with this JSON.
    Json(Value),
    /// A redirect with this status (301, 302, 307, 308) to this URL.
    Redirect(u16, String),
    /// This status with a small JSON body.
    Status(u16),
    /// 200 with this JSON, announced with `Content-Length` or sent chunked without one.
    Large { json: Value, content_length: bool },
    /// 200 with this JSON, one byte every 100 ms (the whole body is announced up front).
    Slow(Value),
    /// Not HTTP at all: an SSH banner, then the connection closes.
    Banner,
}

#[derive(Default)]
struct Shared {
    routes: Mutex<HashMap<String, Answer>>,
    /// Requests seen per path, and connections seen in all (TLS hellos included).
    hits: Mutex<HashMap<String, usize>>,
    connections: Mutex<usize>,
}

/// The misbehaving host.
pub struct DocHost {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub port: u16,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DocHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DocHost {
    pub async fn start() -> DocHost {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                *s.connections.lock().unwrap() += 1;
                tokio::spawn(answer(stream, s.clone()));
            }
        });
        DocHost {
            base: format!("http://127.0.0.1:{port}"),
            port,
            shared,
            task,
        }
    }

    /// Answers `path` with `answer` from now on; returns its URL.
    pub fn serve(&self, path: &str, answer: Answer) -> String {
        self.shared
            .routes
            .lock()
            .unwrap()
            .insert(path.to_owned(), answer);
        format!("{}{path}", self.base)
    }

    /// Requests for `path` so far.
    pub fn hits(&self, path: &str) -> usize {
        self.shared
            .hits
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// TCP connections accepted so far, whatever came over them.
    pub fn connections(&self) -> usize {
        *self.shared.connections.lock().unwrap()
    }
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

async fn answer(mut stream: TcpStream, s: Arc<Shared>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    // Read the request head (bounded: 16 KiB, 5 s).
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    })
    .await;
    if !matches!(read, Ok(true)) {
        return;
    }
    let head = String::from_utf8_lossy(&head);
    let path = head
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/")
        .to_owned();
    *s.hits.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
    let route = s.routes.lock().unwrap().get(&path).cloned();
    let json_head = |len: usize| {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n"
        )
    };
    match route {
        None => {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
        }
        Some(Answer::Json(v)) => {
            let body = v.to_string();
            let _ = stream
                .write_all(format!("{}{body}", json_head(body.len())).as_bytes())
                .await;
        }
        Some(Answer::Redirect(code, to)) => {
            let _ = stream
                .write_all(
                    format!("HTTP/1.1 {code} Moved\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await;
        }
        Some(Answer::Status(code)) => {
            let body = r#"{"error":"nope"}"#;
            let _ = stream
                .write_all(
                    format!("HTTP/1.1 {code} Whatever\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
                        .as_bytes(),
                )
                .await;
        }
        Some(Answer::Large {
            json,
            content_length: true,
        }) => {
            let body = json.to_string();
            let _ = stream
                .write_all(format!("{}{body}", json_head(body.len())).as_bytes())
                .await;
        }
        Some(Answer::Large {
            json,
            content_length: false,
        }) => {
            let body = json.to_string();
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n")
                .await;
            for chunk in body.as_bytes().chunks(1024) {
                let mut c = format!("{:x}\r\n", chunk.len()).into_bytes();
                c.extend_from_slice(chunk);
                c.extend_from_slice(b"\r\n");
                if stream.write_all(&c).await.is_err() {
                    return;
                }
            }
            let _ = stream.write_all(b"0\r\n\r\n").await;
        }
        Some(Answer::Slow(v)) => {
            let body = v.to_string();
            if stream
                .write_all(json_head(body.len()).as_bytes())
                .await
                .is_err()
            {
                return;
            }
            // At most 300 bytes at 10 a second: 30 s, then give up whatever happens.
            for b in body.as_bytes().iter().take(300) {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if stream.write_all(&[*b]).await.is_err() {
                    return;
                }
            }
        }
        Some(Answer::Banner) => {
            let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
        }
    }
    let _ = stream.shutdown().await;
}
