//! The accept loop: HTTP/1.1 and HTTP/2 with hyper-util, configured so one slow or greedy
//! client cannot hold the console. `axum::serve` sets no timer, so a client that sends its
//! headers one byte a minute would keep a connection (and a task) for ever; here the head
//! must arrive within `header_read_timeout_secs` and fit in `max_header_bytes` (431
//! beyond). Graceful: on stop, connections finish their requests for up to
//! [`GRACE`], then are closed (an open push stream never finishes by itself), so the
//! process's stop stays within its bound.

use crate::config::Limits;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// How long requests in flight may take to finish once a stop is asked for.
pub const GRACE: Duration = Duration::from_secs(2);

/// Serves `app` on `listener` until `stop` completes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &Limits,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(limits.header_read_timeout_secs.max(1)))
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(limits.max_header_bytes as u32);
    let graceful = GracefulShutdown::new();
    // Turns true when the grace is over: every connection still open is dropped.
    let (closed_tx, closed) = tokio::sync::watch::channel(false);
    tokio::pin!(stop);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: say so, breathe, go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        // Pages stream in several writes; without TCP_NODELAY, Nagle holds the last small
        // write until the client's delayed ACK (40 ms on Linux) — measured by page-bench.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(req)
        });
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
        let conn = graceful.watch(conn.into_owned());
        let mut closed = closed.clone();
        tokio::spawn(async move {
            tokio::select! {
                ended = conn => if let Err(e) = ended {
                    tracing::debug!(error = %e, %peer, "connection ended with an error");
                },
                _ = closed.wait_for(|c| *c) => {}
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::info!(
            grace_s = GRACE.as_secs_f64(),
            "connections still open after the grace (push streams); closing them"
        );
    }
    let _ = closed_tx.send(true);
    // Let the dropped connections' tasks run once so they release what they hold.
    tokio::task::yield_now().await;
    Ok(())
}
