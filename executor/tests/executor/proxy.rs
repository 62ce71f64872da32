//! A loopback HTTP proxy in front of moto that answers chosen operations with faults.
//!
//! The operation is read from `X-Amz-Target` (JSON protocols: ECS, SQS, EventBridge) or from
//! the `Action=` form field (query protocol: Auto Scaling). Requests are forwarded one per
//! upstream connection (`Connection: close`), so responses are simply read to the end.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What to answer instead of (or after) forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 400 with the protocol's throttling error (`ThrottlingException` / `Throttling`).
    Throttle,
    /// HTTP 500 (`ServerException` / `InternalFailure`), not forwarded.
    ServerError,
    /// HTTP 400 validation error (`InvalidParameterException` / `ValidationError`).
    Validation,
    /// Forwarded (moto applies it), then the answer is replaced by a 500: a lost response.
    ServerErrorAfterForward,
}

#[derive(Default)]
struct State {
    faults: HashMap<String, VecDeque<Fault>>,
    attempts: HashMap<String, usize>,
    forwarded: HashMap<String, usize>,
}

/// The running proxy; stopped when dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Listens on a free loopback port, forwarding to 127.0.0.1:`upstream_port`.
    pub async fn start(upstream_port: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _ = serve(client, upstream_port, state).await;
                });
            }
        });
        FaultProxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            state,
            task,
        }
    }

    /// Answers the next `times` requests of `operation` with `fault`.
    pub fn fail(&self, operation: &str, fault: Fault, times: usize) {
        let mut state = lock(&self.state);
        let queue = state.faults.entry(operation.to_owned()).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    /// HTTP requests of `operation` received (SDK attempts, retries included).
    pub fn attempts(&self, operation: &str) -> usize {
        lock(&self.state)
            .attempts
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Requests of `operation` that reached moto.
    pub fn forwarded(&self, operation: &str) -> usize {
        lock(&self.state)
            .forwarded
            .get(operation)
            .copied()
            .unwrap_or(0)
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// One client connection: requests in sequence until the client closes it.
async fn serve(
    mut client: TcpStream,
    upstream_port: u16,
    state: Arc<Mutex<State>>,
) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    loop {
        let Some((head, body)) = read_request(&mut client, &mut buffer).await? else {
            return Ok(());
        };
        let json = header(&head, "x-amz-target").is_some();
        let operation = operation(&head, &body);
        let fault = {
            let mut s = lock(&state);
            *s.attempts.entry(operation.clone()).or_default() += 1;
            let fault = s.faults.get_mut(&operation).and_then(|q| q.pop_front());
            if !matches!(
                fault,
                Some(Fault::Throttle | Fault::ServerError | Fault::Validation)
            ) {
                *s.forwarded.entry(operation.clone()).or_default() += 1;
            }
            fault
        };
        let answer = match fault {
            Some(f @ (Fault::Throttle | Fault::ServerError | Fault::Validation)) => {
                error_response(f, json)
            }
            other => {
                let upstream = forward(upstream_port, &head, &body).await?;
                if other == Some(Fault::ServerErrorAfterForward) {
                    error_response(Fault::ServerError, json)
                } else {
                    upstream
                }
            }
        };
        client.write_all(&answer).await?;
        // moto answers `Connection: close` to forwarded requests; follow it.
        if String::from_utf8_lossy(&answer[..answer.len().min(2048)])
            .to_ascii_lowercase()
            .contains("connection: close")
        {
            return Ok(());
        }
    }
}

/// Reads one request (head, body); `None` at end of stream.
async fn read_request(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = find(buffer, b"\r\n\r\n") {
            break pos + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let length: usize = header(&head, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = buffer[head_end..head_end + length].to_vec();
    buffer.drain(..head_end + length);
    Ok(Some((head, body)))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

fn operation(head: &str, body: &[u8]) -> String {
    if let Some(target) = header(head, "x-amz-target") {
        return target.rsplit('.').next().unwrap_or(target).to_owned();
    }
    String::from_utf8_lossy(body)
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .unwrap_or("unknown")
        .to_owned()
}

/// Sends the request to moto on a fresh connection and reads the whole answer.
async fn forward(port: u16, head: &str, body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut upstream = TcpStream::connect(("127.0.0.1", port)).await?;
    let mut request = String::new();
    for (i, line) in head.trim_end().split("\r\n").enumerate() {
        if i > 0
            && line
                .split_once(':')
                .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("connection"))
        {
            continue;
        }
        request.push_str(line);
        request.push_str("\r\n");
    }
    request.push_str("Connection: close\r\n\r\n");
    upstream.write_all(request.as_bytes()).await?;
    upstream.write_all(body).await?;
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer).await?;
    Ok(answer)
}

fn error_response(fault: Fault, json: bool) -> Vec<u8> {
    let (status, json_code, query_code, query_type) = match fault {
        Fault::Throttle => (400, "ThrottlingException", "Throttling", "Sender"),
        Fault::Validation => (
            400,
            "InvalidParameterException",
            "ValidationError",
            "Sender",
        ),
        Fault::ServerError | Fault::ServerErrorAfterForward => {
            (500, "ServerException", "InternalFailure", "Receiver")
        }
    };
    let (content_type, body, code) = if json {
        (
            "application/x-amz-json-1.1",
            format!(r#"{{"__type":"{json_code}","message":"injected by the test proxy"}}"#),
            json_code,
        )
    } else {
        (
            "text/xml",
            format!(
                "<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">\
                 <Error><Type>{query_type}</Type><Code>{query_code}</Code>\
                 <Message>injected by the test proxy</Message></Error>\
                 <RequestId>proxy</RequestId></ErrorResponse>"
            ),
            query_code,
        )
    };
    let reason = if status == 400 {
        "Bad Request"
    } else {
        "Internal Server Error"
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nx-amzn-ErrorType: {code}\r\n\
         x-amzn-RequestId: proxy\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
