//! Listeners: one TLS listener per appliance plus the admin one, each serving an axum router
//! over HTTP/1.1. An appliance that is rebooting or made unreachable does not answer at all:
//! new connections are reset as soon as they are accepted, and open ones (keep-alive, long
//! polls) are dropped the moment it goes away.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::runtime::Shared;

/// Time allowed for a TLS handshake before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections on `listener` forever. With `appliance`, connections are reset
/// while that appliance is unreachable. Open connections are dropped when `reach` turns
/// false.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    shared: Arc<Shared>,
    appliance: Option<usize>,
    reach: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            // Out of file descriptors and the like: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        if let Some(app) = appliance
            && !shared.with(|w, now| w.apps[app].reachable(now))
        {
            // A reset, as from a host that is down or rebooting.
            let _ = tcp.set_zero_linger();
            drop(tcp);
            continue;
        }
        // Without it the reply after the TLS 1.3 handshake waits for the client's delayed ACK
        // (about 40 ms), which every figure in simulated time then charges to the operator.
        let _ = tcp.set_nodelay(true);
        let mut reach = reach.clone();
        let acceptor = acceptor.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let Ok(Ok(stream)) =
                tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
            else {
                return;
            };
            let service = TowerToHyperService::new(router);
            // The timer enables hyper's header read timeout, which also closes idle
            // keep-alive connections.
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                () = went_away(&mut reach) => {}
            }
        });
    }
}

/// Resolves when the appliance stops answering (or the fleet is dropped).
async fn went_away(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|up| !*up).await;
}
