//! The connection layer over real loopback sockets, on tokio's paused clock: timeouts elapse
//! when the runtime has nothing else to do, so no test waits out a real timeout.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use super::{ConnectionCounters, ConnectionLimits, serve};

const LIMITS: ConnectionLimits = ConnectionLimits {
    header_read_timeout: Duration::from_secs(2),
    idle_timeout: Duration::from_secs(30),
    write_timeout: Duration::from_secs(5),
    max_connections: 4,
    drain_timeout: Duration::from_secs(3),
};

struct Running {
    addr: std::net::SocketAddr,
    counters: Arc<ConnectionCounters>,
    stop: Option<oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(limits: ConnectionLimits) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/echo", post(|body: String| async move { body }))
        .route("/big", get(|| async { vec![b'x'; 32 << 20] }));
    let counters = Arc::new(ConnectionCounters::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(serve(
        listener,
        router,
        limits,
        Arc::clone(&counters),
        async move {
            let _ = stopped.await;
        },
    ));
    Running {
        addr,
        counters,
        stop: Some(stop),
        served,
    }
}

/// Sends one complete GET and reads its answer, leaving the connection open.
async fn get_ok(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /ok HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = vec![0; 1024];
    let read = stream.read(&mut buffer).await.unwrap();
    String::from_utf8_lossy(&buffer[..read]).into_owned()
}

/// Reads until the server closes the connection; true when it did (EOF or reset).
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buffer = vec![0; 1024];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return true,
            Ok(_) => {}
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_request_whose_headers_never_finish_is_closed_by_the_header_timeout() {
    let server = start(LIMITS).await;
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /ok HTTP/1.1\r\nHost: te")
        .await
        .unwrap();
    assert!(closed_by_server(&mut slow).await);
    assert_eq!(
        server
            .counters
            .closed_header_timeout
            .load(Ordering::Relaxed),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn an_idle_keep_alive_connection_is_closed_by_the_idle_timeout_not_the_header_timeout() {
    let server = start(LIMITS).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    assert!(get_ok(&mut idle).await.starts_with("HTTP/1.1 200"));
    let waited = tokio::time::Instant::now();
    assert!(closed_by_server(&mut idle).await);
    assert!(waited.elapsed() >= LIMITS.idle_timeout);
    assert_eq!(
        server.counters.closed_idle_timeout.load(Ordering::Relaxed),
        1
    );
    assert_eq!(
        server
            .counters
            .closed_header_timeout
            .load(Ordering::Relaxed),
        0
    );
}

#[tokio::test(start_paused = true)]
async fn at_the_cap_the_longest_idle_connection_makes_room_for_a_new_client() {
    let server = start(LIMITS).await;
    let mut idle = Vec::new();
    for _ in 0..LIMITS.max_connections {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        assert!(get_ok(&mut stream).await.starts_with("HTTP/1.1 200"));
        idle.push(stream);
        tokio::time::advance(Duration::from_millis(10)).await;
    }
    let mut newcomer = TcpStream::connect(server.addr).await.unwrap();
    assert!(get_ok(&mut newcomer).await.starts_with("HTTP/1.1 200"));
    assert_eq!(server.counters.closed_at_cap.load(Ordering::Relaxed), 1);
    assert!(closed_by_server(&mut idle[0]).await, "the oldest idle one");
}

#[tokio::test(start_paused = true)]
async fn shutdown_waits_for_a_half_sent_request_only_until_the_drain_timeout() {
    let mut server = start(LIMITS).await;
    let mut holding = TcpStream::connect(server.addr).await.unwrap();
    holding
        .write_all(b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nhalf")
        .await
        .unwrap();
    tokio::task::yield_now().await;
    let began = tokio::time::Instant::now();
    server.stop.take().unwrap().send(()).unwrap();
    server.served.await.unwrap().unwrap();
    assert!(began.elapsed() >= LIMITS.drain_timeout);
    assert_eq!(server.counters.closed_at_drain.load(Ordering::Relaxed), 1);
    assert!(closed_by_server(&mut holding).await);
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_a_request_in_flight_finish() {
    let mut server = start(LIMITS).await;
    let mut sending = TcpStream::connect(server.addr).await.unwrap();
    sending
        .write_all(b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\n\r\nha")
        .await
        .unwrap();
    tokio::task::yield_now().await;
    server.stop.take().unwrap().send(()).unwrap();
    sending.write_all(b"lf").await.unwrap();
    let mut answer = String::new();
    sending.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("half"), "{answer}");
    server.served.await.unwrap().unwrap();
    assert_eq!(server.counters.closed_at_drain.load(Ordering::Relaxed), 0);
}

#[tokio::test(start_paused = true)]
async fn a_client_that_does_not_read_its_answer_is_closed_by_the_write_timeout() {
    let server = start(LIMITS).await;
    let mut reader = TcpStream::connect(server.addr).await.unwrap();
    reader
        .write_all(b"GET /big HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    for _ in 0..60 {
        if server.counters.closed_write_timeout.load(Ordering::Relaxed) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(
        server.counters.closed_write_timeout.load(Ordering::Relaxed),
        1
    );
    assert!(closed_by_server(&mut reader).await);
}
