//! The HTTP listener: hyper's HTTP/1 server with the limits a reverse proxy would otherwise
//! give, because `axum::serve` exposes none. A client has [`HEADER_READ_TIMEOUT`] to send a
//! request's headers, on a new connection and between requests on a kept-alive one, so
//! half-open and idle connections are closed instead of held forever; and at most
//! [`MAX_CONNECTIONS`] are open at once: beyond that a new connection is closed at once rather
//! than queued, so a flood cannot starve the process of file descriptors.
//!
//! On shutdown the listener stops accepting, every connection finishes the request it is
//! serving (the router's own timeout bounds that) and closes, and [`serve`] returns once all
//! are gone or after [`DRAIN_TIMEOUT`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// How long a client may take to send a request's headers (and how long a kept-alive
/// connection may sit idle).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Open connections at most; more are closed as they arrive.
pub const MAX_CONNECTIONS: usize = 2048;
/// How long a shutdown waits for open connections to finish.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

/// Connections the kernel may hold completed but not yet accepted. With the usual 1024, a
/// burst of connections that send nothing overflows the queue and their handshakes stall until
/// the kernel's retransmits: they would be accepted, and timed out, only much later.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` for [`serve`] with [`LISTEN_BACKLOG`] (the kernel may cap it lower).
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves `app` on `listener` until `shutdown`, then drains open connections.
pub async fn serve(listener: TcpListener, app: Router, shutdown: CancellationToken) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT).keep_alive(true);
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, limit = MAX_CONNECTIONS, "too many open connections; closing a new one");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                _ = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(%peer, error = %e, "connection closed");
            }
        });
    }
    drop(listener);
    // Every connection holds a slot until it is gone.
    let all = u32::try_from(MAX_CONNECTIONS).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN_TIMEOUT, slots.acquire_many(all)).await.is_err() {
        tracing::warn!("some connections were still open when the server stopped");
    }
}
