//! A loopback HTTP/1.1 server that is hard on many connections at once, as a busy management API
//! is: a listen backlog of 5, a fixed number of connection handlers, keep-alive connections held
//! by their handler until the client closes them, and slow answers.
//!
//! A connection beyond the handlers waits in the kernel's accept queue (5 + 1 of them); beyond
//! that the kernel drops the client's SYN, which is retried after a second. A request sent on a
//! queued connection is answered only when a handler frees up, that is when a client closes one
//! of its connections. The server runs on its own thread and runtime, as another process would.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{oneshot, Semaphore};

/// The listen backlog.
pub const BACKLOG: u32 = 5;

/// A running server; stopped when dropped.
pub struct BacklogServer {
    port: u16,
    stats: Arc<Stats>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct Stats {
    accepted: AtomicUsize,
    open: AtomicUsize,
    most_open: AtomicUsize,
    answered: AtomicUsize,
}

impl BacklogServer {
    /// Starts the server with `handlers` connection handlers, each answer `delay` late. A
    /// request for `/v/N` is answered `{"value": N}`.
    pub fn start(handlers: usize, delay: Duration) -> BacklogServer {
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let stats = Arc::new(Stats::default());
        let shared = Arc::clone(&stats);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("server runtime");
            runtime.block_on(async move {
                let socket = TcpSocket::new_v4().expect("socket");
                socket
                    .bind("127.0.0.1:0".parse().expect("address"))
                    .expect("bind");
                let listener = socket.listen(BACKLOG).expect("listen");
                port_tx
                    .send(listener.local_addr().expect("address").port())
                    .expect("port");
                let slots = Arc::new(Semaphore::new(handlers));
                let accept = async {
                    loop {
                        // A connection is accepted only when a handler is free.
                        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                            return;
                        };
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let stats = Arc::clone(&shared);
                        stats.accepted.fetch_add(1, Ordering::SeqCst);
                        let open = stats.open.fetch_add(1, Ordering::SeqCst) + 1;
                        stats.most_open.fetch_max(open, Ordering::SeqCst);
                        tokio::spawn(async move {
                            serve(stream, delay, &stats).await;
                            stats.open.fetch_sub(1, Ordering::SeqCst);
                            drop(slot);
                        });
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stopped => {}
                }
            });
        });
        let port = port_rx.recv().expect("the server started");
        BacklogServer {
            port,
            stats,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT/v/N`.
    pub fn url(&self, n: usize) -> String {
        format!("http://127.0.0.1:{}/v/{n}", self.port)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.stats.accepted.load(Ordering::SeqCst)
    }

    /// The most connections open at once.
    pub fn most_open(&self) -> usize {
        self.stats.most_open.load(Ordering::SeqCst)
    }

    /// Requests answered.
    pub fn answered(&self) -> usize {
        self.stats.answered.load(Ordering::SeqCst)
    }
}

impl Drop for BacklogServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Requests on one connection until the client closes it (keep-alive).
async fn serve(mut stream: TcpStream, delay: Duration, stats: &Stats) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 2048];
    loop {
        let head_end = loop {
            if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        buffer.drain(..head_end);
        let value: u64 = head
            .split_whitespace()
            .nth(1)
            .and_then(|path| path.strip_prefix("/v/"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        tokio::time::sleep(delay).await;
        let body = format!("{{\"value\": {value}}}");
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{body}",
            body.len()
        );
        // Counted before the write: the client may read the answer (and the test check the
        // count) before this thread runs again.
        stats.answered.fetch_add(1, Ordering::SeqCst);
        if stream.write_all(answer.as_bytes()).await.is_err() {
            stats.answered.fetch_sub(1, Ordering::SeqCst);
            return;
        }
    }
}
