//! How ade serves HTTP on a listener: its own accept loop over hyper rather than `axum::serve`,
//! which sets no timer and so no bound on how long a client may take to send a request head. Each
//! connection gets `server.header_timeout_secs` for every request head (and so for the quiet
//! between two requests on a kept-alive connection), the peer's address as `ConnectInfo` for the
//! routes, and a graceful shutdown.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower_service::Service as _;

/// Serves `routes` on `listener` until `stop` turns true, then stops accepting, lets every open
/// connection finish the request it is on, and returns once they are closed.
pub async fn serve(
    listener: TcpListener,
    routes: Router,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let (closing, closed) = watch::channel(false);
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        while connections.try_join_next().is_some() {}
        match accepted {
            Ok((stream, peer)) => {
                let routes = routes.clone();
                let closed = closed.clone();
                connections.spawn(connection(stream, peer, routes, header_timeout, closed));
            }
            // The client gave up between connecting and being accepted: nothing to do.
            Err(error) if is_connection_error(&error) => {}
            // Out of file descriptors, say: accepting again at once would spin.
            Err(error) => {
                tracing::error!(%error, "could not accept a connection; trying again in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    drop(listener);
    let _ = closing.send(true);
    while connections.join_next().await.is_some() {}
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    routes: Router,
    header_timeout: Duration,
    mut closing: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        routes.clone().call(request)
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let served = tokio::select! {
        served = connection.as_mut() => served,
        () = async { drop(closing.wait_for(|closing| *closing).await) } => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = served {
        // A head too slow, a client that went away: the connection's end, not ade's error.
        tracing::debug!(%peer, %error, "connection ended");
    }
}

fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}
