//! A TCP relay in front of simulated appliances that notes when the operator sends them
//! something: the simulator keeps no per-request log with times, and the operator must not be
//! asked. TLS passes through untouched (the appliances' certificates name 127.0.0.1, where the
//! relay listens too), so the relay sees records, not requests: a write of at least
//! [`MIN_REQUEST`] bytes is a request (or the handshake opening one); smaller ones are TLS
//! alerts such as the close_notify of a pooled connection going idle.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;

/// The smallest client write counted as a request: a TLS 1.3 alert is 24 bytes, a TLS 1.2
/// one 31; a ClientHello or an HTTP request in a record is well over 100.
pub const MIN_REQUEST: usize = 64;

#[derive(Debug, Default)]
struct Seen {
    times: Mutex<Vec<Instant>>,
    notify: Notify,
}

impl Seen {
    fn record(&self, at: Instant) {
        self.times
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(at);
        self.notify.notify_waiters();
    }

    fn first_after(&self, t: Instant) -> Option<Instant> {
        let times = self.times.lock().unwrap_or_else(PoisonError::into_inner);
        times.iter().copied().find(|at| *at >= t)
    }

    fn last(&self) -> Option<Instant> {
        self.times
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last()
            .copied()
    }
}

/// Relays to several appliances, noting requests to any of them in one log.
#[derive(Debug)]
pub struct Relay {
    /// `https://127.0.0.1:<port>` in front of each upstream, in order.
    pub urls: Vec<String>,
    seen: Arc<Seen>,
    tasks: JoinSet<()>,
}

impl Relay {
    /// Listens on a loopback port per upstream.
    pub async fn start(upstreams: &[SocketAddr]) -> Result<Self> {
        let seen = Arc::new(Seen::default());
        let mut tasks = JoinSet::new();
        let mut urls = Vec::new();
        for upstream in upstreams {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            urls.push(format!("https://{}", listener.local_addr()?));
            tasks.spawn(serve(listener, *upstream, seen.clone()));
        }
        Ok(Self { urls, seen, tasks })
    }

    /// When the last request went through.
    pub fn last(&self) -> Option<Instant> {
        self.seen.last()
    }

    /// Waits until no request went through for `quiet`, at most `deadline`.
    pub async fn quiet(&self, quiet: Duration, deadline: Duration) -> Result<()> {
        let give_up = Instant::now() + deadline;
        loop {
            let since = self.last().map_or(quiet, |t| t.elapsed());
            if since >= quiet {
                return Ok(());
            }
            if Instant::now() > give_up {
                bail!("the operator kept talking to the appliances for {deadline:?}");
            }
            tokio::time::sleep(quiet - since).await;
        }
    }

    /// The time from `t` to the first request at or after it, waiting at most `deadline`.
    pub async fn first_after(&self, t: Instant, deadline: Duration) -> Result<Duration> {
        let wait = async {
            loop {
                // Registered before looking, so a request between the look and the wait
                // still wakes us.
                let notified = self.seen.notify.notified();
                let mut notified = std::pin::pin!(notified);
                notified.as_mut().enable();
                if let Some(at) = self.seen.first_after(t) {
                    return at - t;
                }
                notified.await;
            }
        };
        tokio::time::timeout(deadline, wait)
            .await
            .with_context(|| format!("no appliance request within {deadline:?}"))
    }

    /// Stops listening and closes every relayed connection.
    pub fn stop(mut self) {
        self.tasks.abort_all();
    }
}

async fn serve(listener: TcpListener, upstream: SocketAddr, seen: Arc<Seen>) {
    // Connections live in this set so that stopping the relay ends them too.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                connections.spawn(relay(client, upstream, seen.clone()));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn relay(client: TcpStream, upstream: SocketAddr, seen: Arc<Seen>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    // Best effort: a relay that delayed small writes would add to what it measures.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = client_read.read(&mut buf).await?;
            if n == 0 {
                return server_write.shutdown().await;
            }
            if n >= MIN_REQUEST {
                seen.record(Instant::now());
            }
            server_write.write_all(&buf[..n]).await?;
        }
    };
    let down = async {
        tokio::io::copy(&mut server_read, &mut client_write).await?;
        client_write.shutdown().await
    };
    // Either side failing ends the connection: the error is the peer's business.
    let _: (std::io::Result<()>, std::io::Result<()>) = tokio::join!(up, down);
}
