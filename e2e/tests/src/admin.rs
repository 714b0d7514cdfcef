//! Reading an operator's admin server (/healthz, /readyz, /metrics) the way a kubelet probe or
//! Prometheus does: plain HTTP/1.1 GETs.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The status code and body of `GET path`.
pub async fn get(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("failed to connect to the admin server at {addr}"))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("not an HTTP response: {head}"))?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        unchunk(body)
    } else {
        body.to_owned()
    };
    Ok((code, body))
}

/// Decodes a chunked body.
fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Polls `GET path` until `check` holds, for at most `deadline` (the server may not be up yet).
pub async fn until(
    addr: SocketAddr,
    path: &str,
    deadline: Duration,
    check: impl Fn(u16, &str) -> bool,
) -> Result<String> {
    let give_up = tokio::time::Instant::now() + deadline;
    loop {
        let last = match get(addr, path).await {
            Ok((code, body)) if check(code, &body) => return Ok(body),
            Ok((code, body)) => format!("{code}: {body}"),
            Err(e) => format!("{e:#}"),
        };
        if tokio::time::Instant::now() > give_up {
            bail!("GET {path} on {addr}: condition not met within {deadline:?}; last: {last}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of the sample `series` (name and labels exactly as exposed), if present.
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?;
        rest.strip_prefix(' ')?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}
