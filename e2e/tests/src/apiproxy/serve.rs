//! The proxy's server: accepts connections and answers each request with the fault armed
//! for it, if any, or else with the API server's answer, streamed and recorded for stale
//! reads.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use hyper::body::{Body as _, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::body::{ProxyBody, Recorder};
use super::classify::{self, Call};
use super::state::{self, Decision, Recorded, State};

/// Accepts connections until the task is aborted.
pub(super) async fn serve(listener: TcpListener, upstream: kube::Client, state: Arc<State>) {
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
