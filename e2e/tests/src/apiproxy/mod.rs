//! An HTTP proxy in front of the API server, in the test process, for chaos and benchmark
//! harnesses: it counts every request by verb and resource, and injects the faults a real
//! cluster produces rarely and at random (write conflicts, stale reads from a lagging cache,
//! a connection lost in the middle of a write) exactly when a test asks for them.
//!
//! Clients reach it over plain HTTP with a kubeconfig that carries no credentials
//! ([`ApiProxy::kubeconfig`]); it forwards with its own admin client, so what the API server
//! sees is the admin user, and what a client sees is the API server's answers, streamed
//! (watches included), or an injected fault.

mod body;
mod classify;
mod state;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use hyper::body::{Body as _, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

use crate::cluster::Cluster;
use body::{ProxyBody, Recorder};
pub use classify::{Call, Matcher};
pub use state::Injected;
use state::{Decision, HoldSlot, Recorded, State};

/// A running proxy. Dropping it (or [`ApiProxy::stop`]) closes the port and every open
/// connection, as a dead API server would.
#[derive(Debug)]
pub struct ApiProxy {
    addr: SocketAddr,
    state: Arc<State>,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
    task: JoinHandle<()>,
}

impl ApiProxy {
    /// Starts a proxy on a free loopback port in front of `cluster`, on the calling runtime
    /// (it serves only while that runtime runs: a `#[tokio::test]`'s, for a test).
    pub async fn start(cluster: &Cluster) -> Result<Self> {
        let upstream = upstream_client(cluster).await?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let dir = tempfile::tempdir()?;
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_yaml(addr))
            .with_context(|| format!("failed to write {}", kubeconfig.display()))?;
        let state = Arc::new(State::default());
        let task = tokio::spawn(serve(listener, upstream, state.clone()));
        Ok(Self {
            addr,
            state,
            kubeconfig,
            _dir: dir,
            task,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig naming the proxy, without credentials (the proxy adds its own), for
    /// [`crate::operator::Launch::kubeconfig`], kubectl or [`ApiProxy::client`]. It lives as
    /// long as the proxy.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The cluster as seen through the proxy, for harness functions that take a [`Cluster`].
    pub fn cluster(&self) -> Cluster {
        Cluster {
            kubeconfig: self.kubeconfig.clone(),
            local: false,
        }
    }

    /// A client that talks to the API server through the proxy.
    pub async fn client(&self) -> Result<kube::Client> {
        self.cluster().client().await
    }

    /// How many requests of each (verb, resource) the proxy received since it started or
    /// since [`ApiProxy::reset_counts`], faulted ones included.
    pub fn counts(&self) -> BTreeMap<(String, String), u64> {
        self.state.counts(None)
    }

    /// [`ApiProxy::counts`] for the requests naming `namespace` in their path.
    pub fn counts_in(&self, namespace: &str) -> BTreeMap<(String, String), u64> {
        self.state.counts(Some(namespace))
    }

    /// The count of one (verb, resource), 0 if none.
    pub fn count(&self, verb: &str, resource: &str) -> u64 {
        let key = (verb.to_owned(), resource.to_owned());
        self.counts().get(&key).copied().unwrap_or(0)
    }

    /// Starts counting again from zero.
    pub fn reset_counts(&self) {
        self.state.reset_counts();
    }

    /// The next `n` writes `matcher` matches are answered `409 Conflict` by the proxy and
    /// never reach the API server, as if another writer had changed the object first.
    pub fn conflict_next(&self, matcher: Matcher, n: u64) {
        self.state.arm_conflicts(matcher, n);
    }

    /// The next `n` gets or lists `matcher` matches are answered with the previous different
    /// answer the proxy saw to the same URL, as a lagging cache would. A read with no such
    /// earlier answer is forwarded and does not use up the fault.
    pub fn stale_next(&self, matcher: Matcher, n: u64) {
        self.state.arm_stale(matcher, n);
    }

    /// The next write `matcher` matches is held at the proxy until the returned [`Held`]
    /// releases it (dropping the [`Held`] forwards it).
    pub fn hold_next(&self, matcher: Matcher) -> Held {
        let (slot, arrived, decision) = HoldSlot::new(matcher);
        self.state.arm_hold(slot);
        Held {
            arrived: Some(arrived),
            call: None,
            decision,
        }
    }

    /// Disarms the faults not fired yet (requests already held stay held).
    pub fn clear_faults(&self) {
        self.state.clear_faults();
    }

    /// How many faults of each kind fired.
    pub fn injected(&self) -> Injected {
        self.state.injected()
    }

    /// Stops serving and waits until the port and every connection are closed.
    pub async fn stop(mut self) {
        self.task.abort();
        // The task was aborted: its result is only that cancellation.
        let _ = (&mut self.task).await;
    }
}

impl Drop for ApiProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A write held at the proxy by [`ApiProxy::hold_next`].
#[derive(Debug)]
pub struct Held {
    arrived: Option<oneshot::Receiver<Call>>,
    call: Option<Call>,
    decision: oneshot::Sender<Decision>,
}

impl Held {
    /// Waits until the held request has reached the proxy (its body read, nothing sent to the
    /// API server yet) and returns what it is. Wrap it in a timeout: it waits for ever if no
    /// matching write comes.
    pub async fn arrived(&mut self) -> Result<Call> {
        if let Some(call) = &self.call {
            return Ok(call.clone());
        }
        let receiver = self
            .arrived
            .as_mut()
            .ok_or_else(|| anyhow!("the held request was already awaited"))?;
        let call = receiver
            .await
            .map_err(|_| anyhow!("the proxy stopped before the held request arrived"))?;
        self.arrived = None;
        self.call = Some(call.clone());
        Ok(call)
    }

    /// Sends the held request on to the API server.
    pub fn release_forward(self) {
        // A proxy already stopped has nothing left to release.
        let _ = self.decision.send(Decision::Forward);
    }

    /// Closes the held request's connection without forwarding it: the client sees a
    /// connection error and the API server never sees the request.
    pub fn release_drop(self) {
        let _ = self.decision.send(Decision::Drop);
    }
}

/// The admin client the proxy forwards with.
async fn upstream_client(cluster: &Cluster) -> Result<kube::Client> {
    let kubeconfig = Kubeconfig::read_from(&cluster.kubeconfig)
        .with_context(|| format!("failed to read {}", cluster.kubeconfig.display()))?;
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    // A proxy is a wire: retrying a 429 or 503 is its client's decision, not the proxy's.
    config.default_retry = false;
    // Watches stay quiet for minutes; timeouts are the client's business.
    config.read_timeout = None;
    Ok(kube::Client::try_from(config)?)
}

fn kubeconfig_yaml(addr: SocketAddr) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
  - name: apiproxy
    cluster:
      server: http://{addr}
users:
  - name: apiproxy
    user: {{}}
contexts:
  - name: apiproxy
    context:
      cluster: apiproxy
      user: apiproxy
current-context: apiproxy
"
    )
}

/// Accepts connections until the task is aborted.
async fn serve(listener: TcpListener, upstream: kube::Client, state: Arc<State>) {
    // Connections live in this set so that aborting the task ends them too: a stopped proxy
    // must look like a dead API server, open watches included.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let upstream = upstream.clone();
                    let state = state.clone();
                    connections.spawn(async move {
                        let service = service_fn(move |request| {
                            handle(request, upstream.clone(), state.clone())
                        });
                        // Ends with an error when a client goes away or a request is dropped.
                        let served = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                        if let Err(error) = served {
                            tracing::debug!(%error, "api proxy connection ended");
                        }
                    });
                }
                Err(error) => {
                    // Out of file descriptors, usually: wait rather than spin.
                    tracing::warn!(%error, "api proxy accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            // Reaps finished connections so the set does not grow with every one.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Answers one request: a fault if one is armed for it, else the API server's answer.
/// An error closes the connection without an answer.
async fn handle(
    request: Request<Incoming>,
    upstream: kube::Client,
    state: Arc<State>,
) -> Result<Response<ProxyBody>, std::io::Error> {
    let (parts, body) = request.into_parts();
    let call = classify::classify(&parts.method, parts.uri.path(), parts.uri.query());
    state.count(&call);
    let body = collect(body).await.map_err(std::io::Error::other)?;
    if state.take_conflict(&call) {
        let name = call.name.as_deref().unwrap_or_default();
        let message = format!(
            "injected conflict: Operation cannot be fulfilled on {} \"{name}\": the object has \
             been modified; please apply your changes to the latest version and try again",
            call.resource
        );
        return Ok(status(StatusCode::CONFLICT, "Conflict", &message, &call));
    }
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    // The Accept header is part of the key: a protobuf client must not get a JSON body.
    let accept = parts.headers.get(header::ACCEPT);
    let url = format!("{path_and_query} {accept:?}");
    if let Some(stale) = state.take_stale(&call, &url) {
        return Ok(recorded_response(stale));
    }
    if let Some(slot) = state.take_hold(&call)
        && state::decide(slot, call.clone()).await == Decision::Drop
    {
        state.count_drop();
        return Err(std::io::Error::other("held request dropped by the test"));
    }

    let mut forwarded = Request::new(kube::client::Body::from(body));
    *forwarded.method_mut() = parts.method;
    // kube's client prefixes the API server's base URL to the path and query, kept verbatim.
    *forwarded.uri_mut() = Uri::try_from(path_and_query).map_err(std::io::Error::other)?;
    copy_headers(&parts.headers, forwarded.headers_mut(), REQUEST_SKIPPED);
    let answer = match upstream.send(forwarded).await {
        Ok(answer) => answer,
        Err(error) => {
            let message = format!("api proxy: the API server did not answer: {error}");
            return Ok(status(
                StatusCode::BAD_GATEWAY,
                "InternalError",
                &message,
                &call,
            ));
        }
    };
    let (answer, answer_body) = answer.into_parts();
    let body = if call.is_read() && answer.status == StatusCode::OK {
        let recorder = Recorder {
            state,
            url,
            content_type: answer.headers.get(header::CONTENT_TYPE).cloned(),
            buffer: BytesMut::new(),
        };
        ProxyBody::recorded(answer_body, recorder)
    } else {
        ProxyBody::new(answer_body)
    };
    let mut response = Response::new(body);
    *response.status_mut() = answer.status;
    copy_headers(&answer.headers, response.headers_mut(), RESPONSE_SKIPPED);
    Ok(response)
}

/// Request headers not forwarded: hop-by-hop ones, those the proxy's own client sets
/// (host, length, credentials), and Accept-Encoding, so that answers come uncompressed and
/// the proxy can read and record them.
const REQUEST_SKIPPED: &[HeaderName] = &[
    header::HOST,
    header::CONNECTION,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
    header::AUTHORIZATION,
    header::ACCEPT_ENCODING,
];

/// Response headers not passed back: hop-by-hop ones, and the length hyper sets itself.
const RESPONSE_SKIPPED: &[HeaderName] = &[
    header::CONNECTION,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::TRAILER,
    header::UPGRADE,
];

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap, skipped: &[HeaderName]) {
    for (name, value) in from {
        if !skipped.contains(name) && name.as_str() != "keep-alive" {
            to.append(name.clone(), value.clone());
        }
    }
}

/// Reads a request body whole (request bodies are objects: small).
async fn collect(mut body: Incoming) -> Result<Bytes, hyper::Error> {
    let mut bytes = BytesMut::new();
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        if let Some(data) = frame?.data_ref() {
            bytes.extend_from_slice(data);
        }
    }
    Ok(bytes.freeze())
}

fn recorded_response(recorded: Recorded) -> Response<ProxyBody> {
    let mut response = Response::new(ProxyBody::full(recorded.body));
    if let Some(content_type) = recorded.content_type {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    response
}

/// An answer from the proxy itself, as the API server writes errors: a `Status` object.
fn status(code: StatusCode, reason: &str, message: &str, call: &Call) -> Response<ProxyBody> {
    let body = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": {
            "name": call.name.as_deref().unwrap_or_default(),
            "kind": call.resource,
        },
        "code": code.as_u16(),
    });
    let mut response = Response::new(ProxyBody::full(body.to_string()));
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
