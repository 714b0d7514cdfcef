//! The proxy's response body: the API server's body passed through frame by frame (a watch
//! stays open for minutes and must never be buffered), optionally copied aside as it passes
//! so a later stale read can serve it again.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use hyper::body::{Body, Frame, SizeHint};

use super::state::{MAX_RECORDED_BODY, Recorded, State};

/// A response body on its way to the proxy's client.
#[derive(Debug)]
pub(super) struct ProxyBody {
    inner: kube::client::Body,
    recorder: Option<Recorder>,
}

/// Where a read response is copied to while it streams through.
#[derive(Debug)]
pub(super) struct Recorder {
    pub state: Arc<State>,
    pub url: String,
    pub content_type: Option<http::HeaderValue>,
    pub buffer: BytesMut,
}

impl ProxyBody {
    /// A body passed through as is.
    pub fn new(inner: kube::client::Body) -> Self {
        Self {
            inner,
            recorder: None,
        }
    }

    /// A body passed through and kept once complete.
    pub fn recorded(inner: kube::client::Body, recorder: Recorder) -> Self {
        Self {
            inner,
            recorder: Some(recorder),
        }
    }

    /// A body the proxy answers with itself.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        Self::new(kube::client::Body::from(bytes.into()))
    }

    fn finish(&mut self) {
        if let Some(recorder) = self.recorder.take() {
            let recorded = Recorded {
                content_type: recorder.content_type,
                body: recorder.buffer.freeze(),
            };
            recorder.state.record(recorder.url, recorded);
        }
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = kube::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, kube::Error>>> {
        // kube's Body is Unpin (it boxes what it wraps), so no pin projection is needed.
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(recorder)) = (frame.data_ref(), this.recorder.as_mut()) {
                    if recorder.buffer.len() + data.len() > MAX_RECORDED_BODY {
                        this.recorder = None;
                    } else {
                        recorder.buffer.extend_from_slice(data);
                    }
                }
                // hyper stops polling once the body says it has ended, so the end is
                // noticed here as well as on `None`.
                if this.inner.is_end_stream() {
                    this.finish();
                }
            }
            Poll::Ready(None) => this.finish(),
            // A body cut short is not an answer the server gave.
            Poll::Ready(Some(Err(_))) => this.recorder = None,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
