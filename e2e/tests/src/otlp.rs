//! An OpenTelemetry collector stand-in: accepts OTLP/HTTP trace exports (`POST /v1/traces`)
//! and keeps their bodies, so a test can check what the operator exported.

use std::sync::{Arc, Mutex};

use anyhow::Result;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A running stand-in.
#[derive(Debug, Clone)]
pub struct Collector {
    /// Its base URL, such as `http://127.0.0.1:4318`.
    pub url: String,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Collector {
    /// Listens on a free loopback port.
    pub async fn start() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let bodies: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let kept = bodies.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, kept).await;
                });
            }
        });
        Ok(Self { url, bodies })
    }

    /// Whether any export so far contains `needle` (protobuf carries strings as UTF-8).
    pub fn received(&self, needle: &str) -> bool {
        let bodies = self.bodies.lock().unwrap_or_else(|e| e.into_inner());
        bodies
            .iter()
            .any(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
    }

    /// How many exports arrived.
    pub fn exports(&self) -> usize {
        self.bodies.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Answers every request on one (keep-alive) connection with an empty 200.
async fn serve(stream: tokio::net::TcpStream, kept: Arc<Mutex<Vec<Vec<u8>>>>) -> Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut path = String::new();
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        if let Some(p) = line.split_whitespace().nth(1) {
            path = p.to_owned();
        }
        loop {
            line.clear();
            reader.read_line(&mut line).await?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
        if path == "/v1/traces" {
            kept.lock().unwrap_or_else(|e| e.into_inner()).push(body);
        }
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n")
            .await?;
    }
}
