//! A Lambda Runtime API emulator on loopback: hands events to a function process the way Lambda
//! does and collects its answers, so the functions' real binaries can be run and invoked.
//!
//! Written from AWS's documentation of the runtime API, version `2018-06-01` (paths under
//! `/2018-06-01/runtime`):
//!
//! - `GET invocation/next` blocks until an event is queued, then answers it as the body with
//!   the headers `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms` (epoch
//!   milliseconds), `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id`;
//! - `POST invocation/{id}/response` (the result) and `POST invocation/{id}/error` (a JSON
//!   `{errorMessage, errorType, stackTrace}` and the `Lambda-Runtime-Function-Error-Type`
//!   header) answer `202 Accepted`; an unknown or already answered id `400`;
//! - `POST init/error` (same body and header) reports a failed initialisation: `202`.
//!
//! One emulator serves one function process (one invocation at a time, as a Lambda execution
//! environment does). [`RuntimeApi::address`] is the value of `AWS_LAMBDA_RUNTIME_API`.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// The prefix of every path of the runtime API.
pub const PREFIX: &str = "/2018-06-01/runtime";
/// The account of the emulated functions' ARNs.
pub const ACCOUNT: &str = "123456789012";

/// An error the function reported (`invocation/{id}/error` or `init/error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReport {
    /// The `Lambda-Runtime-Function-Error-Type` header, when sent.
    pub header_type: Option<String>,
    /// The body's `errorType` (empty when absent).
    pub error_type: String,
    /// The body's `errorMessage` (the raw body when it is not the documented JSON).
    pub error_message: String,
}

/// How an invocation ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// `invocation/{id}/response`: the body as sent.
    Response(Vec<u8>),
    /// `invocation/{id}/error`.
    Error(ErrorReport),
}

/// One invocation's answer.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The request id the runtime was given.
    pub request_id: String,
    /// What the function answered.
    pub outcome: Outcome,
    /// From the event's queueing to the answer's arrival.
    pub elapsed: Duration,
}

impl Invocation {
    /// The response as JSON; an error outcome or a body that is not JSON is an `Err` saying so.
    pub fn json(&self) -> Result<serde_json::Value, String> {
        match &self.outcome {
            Outcome::Response(body) => serde_json::from_slice(body).map_err(|e| {
                format!(
                    "the response is not JSON ({e}): {}",
                    String::from_utf8_lossy(body)
                )
            }),
            Outcome::Error(report) => Err(format!("the function reported an error: {report:?}")),
        }
    }
}

/// Why [`RuntimeApi::invoke`] has no answer.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The function reported an initialisation error instead of asking for events.
    #[error("the function reported an init error: {0:?}")]
    Init(ErrorReport),
    /// No answer within the time given.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The emulator stopped.
    #[error("the runtime API emulator stopped")]
    Stopped,
}

/// An event waiting for `invocation/next`.
struct Queued {
    event: Vec<u8>,
    timeout: Duration,
    answer: oneshot::Sender<(String, Outcome, Instant)>,
}

/// What the HTTP side and [`RuntimeApi`] share.
struct Shared {
    function_arn: String,
    /// Events for `invocation/next`: one receiver, taken by one `next` at a time.
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    /// Invocations handed out and not answered yet, by request id.
    in_flight: Mutex<HashMap<String, Queued>>,
    /// The init error, once reported.
    init_error: watch::Sender<Option<ErrorReport>>,
    /// How many `invocation/next` requests arrived (the first one ends the function's init).
    polls: watch::Sender<u64>,
    /// When the first `invocation/next` arrived.
    first_poll: std::sync::OnceLock<Instant>,
    /// Request ids handed out so far.
    counter: Mutex<u64>,
}

impl Shared {
    fn in_flight(&self) -> MutexGuard<'_, HashMap<String, Queued>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The emulator: listens on 127.0.0.1 (a free port) until dropped.
pub struct RuntimeApi {
    address: String,
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<Queued>,
    task: JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RuntimeApi {
    /// Starts an emulator for the function `name` (its ARN in `us-east-1`).
    pub async fn start(name: &str) -> io::Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let (events, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            function_arn: format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"),
            events: tokio::sync::Mutex::new(receiver),
            in_flight: Mutex::new(HashMap::new()),
            init_error: watch::channel(None).0,
            polls: watch::channel(0).0,
            first_poll: std::sync::OnceLock::new(),
            counter: Mutex::new(0),
        });
        let serving = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = Arc::clone(&serving);
                tokio::spawn(async move {
                    let _ = serve(stream, shared).await;
                });
            }
        });
        Ok(RuntimeApi {
            address,
            shared,
            events,
            task,
        })
    }

    /// `127.0.0.1:PORT`: the value of `AWS_LAMBDA_RUNTIME_API` (host and port, no scheme).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The ARN the runtime is told it was invoked as.
    pub fn function_arn(&self) -> &str {
        &self.shared.function_arn
    }

    /// How many `invocation/next` requests have arrived so far.
    pub fn polls(&self) -> u64 {
        *self.shared.polls.borrow()
    }

    /// When the function first asked for an event: the end of its initialisation.
    pub fn first_poll(&self) -> Option<Instant> {
        self.shared.first_poll.get().copied()
    }

    /// The init error, if one was reported.
    pub fn init_error(&self) -> Option<ErrorReport> {
        self.shared.init_error.borrow().clone()
    }

    /// Waits until the function asks for its first event (its init is done) or reports an init
    /// error; `Ok(())` when it is ready.
    pub async fn ready(&self, within: Duration) -> Result<(), InvokeError> {
        let mut polls = self.shared.polls.subscribe();
        let mut init = self.shared.init_error.subscribe();
        let wait = async {
            loop {
                if let Some(report) = init.borrow_and_update().clone() {
                    return Err(InvokeError::Init(report));
                }
                if *polls.borrow_and_update() > 0 {
                    return Ok(());
                }
                tokio::select! {
                    r = polls.changed() => r.map_err(|_| InvokeError::Stopped)?,
                    r = init.changed() => r.map_err(|_| InvokeError::Stopped)?,
                }
            }
        };
        tokio::time::timeout(within, wait)
            .await
            .map_err(|_| InvokeError::Timeout(within))?
    }

    /// Waits for an init error for at most `within`.
    pub async fn wait_init_error(&self, within: Duration) -> Option<ErrorReport> {
        let mut init = self.shared.init_error.subscribe();
        let wait = async {
            loop {
                if let Some(report) = init.borrow_and_update().clone() {
                    return Some(report);
                }
                init.changed().await.ok()?;
            }
        };
        tokio::time::timeout(within, wait).await.ok().flatten()
    }

    /// Queues `event` and waits for the function's answer. The function is told its deadline is
    /// `timeout` from the moment it receives the event (the function's configured timeout);
    /// the wait itself gives up after `timeout` plus 5 s.
    /// The event is queued at once, before the returned future is first polled.
    pub fn invoke(
        &self,
        event: &serde_json::Value,
        timeout: Duration,
    ) -> impl std::future::Future<Output = Result<Invocation, InvokeError>> + '_ {
        let (answer, answered) = oneshot::channel();
        let queued_at = Instant::now();
        let queued = self.events.send(Queued {
            event: event.to_string().into_bytes(),
            timeout,
            answer,
        });
        async move {
            queued.map_err(|_| InvokeError::Stopped)?;
            self.answer(answered, queued_at, timeout).await
        }
    }

    async fn answer(
        &self,
        answered: oneshot::Receiver<(String, Outcome, Instant)>,
        queued_at: Instant,
        timeout: Duration,
    ) -> Result<Invocation, InvokeError> {
        let limit = timeout + Duration::from_secs(5);
        let mut init = self.shared.init_error.subscribe();
        let init_error = async {
            loop {
                if let Some(report) = init.borrow_and_update().clone() {
                    return report;
                }
                if init.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        let waited = tokio::time::timeout(limit, async {
            tokio::select! {
                answer = answered => answer.map_err(|_| InvokeError::Stopped),
                report = init_error => Err(InvokeError::Init(report)),
            }
        })
        .await
        .map_err(|_| InvokeError::Timeout(limit))?;
        let (request_id, outcome, at) = waited?;
        Ok(Invocation {
            request_id,
            outcome,
            elapsed: at.duration_since(queued_at),
        })
    }
}

/// One connection: requests in sequence until the runtime closes it.
async fn serve(mut stream: TcpStream, shared: Arc<Shared>) -> io::Result<()> {
    let mut buffer = Vec::new();
    while let Some(request) = read_request(&mut stream, &mut buffer).await? {
        let answer = route(&request, &shared).await;
        stream.write_all(&answer).await?;
    }
    Ok(())
}

/// The answer to one request.
async fn route(request: &Request, shared: &Shared) -> Vec<u8> {
    let Some(path) = request.path.strip_prefix(PREFIX) else {
        return answer(404, &[], br#"{"errorType":"NotFound"}"#);
    };
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (request.method.as_str(), parts.as_slice()) {
        ("GET", ["invocation", "next"]) => next(shared).await,
        ("POST", ["invocation", id, kind @ ("response" | "error")]) => {
            let Some(queued) = shared.in_flight().remove(*id) else {
                return answer(400, &[], br#"{"errorType":"InvalidRequestID"}"#);
            };
            let outcome = if *kind == "response" {
                Outcome::Response(request.body.clone())
            } else {
                Outcome::Error(error_report(request))
            };
            // The waiting `invoke` may have given up; the answer is then dropped.
            let _ = queued
                .answer
                .send(((*id).to_owned(), outcome, Instant::now()));
            answer(202, &[], br#"{"status":"OK"}"#)
        }
        ("POST", ["init", "error"]) => {
            let report = error_report(request);
            shared.init_error.send_replace(Some(report));
            answer(202, &[], br#"{"status":"OK"}"#)
        }
        _ => answer(404, &[], br#"{"errorType":"NotFound"}"#),
    }
}

/// `invocation/next`: waits for an event and hands it out with its headers.
async fn next(shared: &Shared) -> Vec<u8> {
    let _ = shared.first_poll.set(Instant::now());
    shared.polls.send_modify(|n| *n += 1);
    let queued = {
        let mut events = shared.events.lock().await;
        events.recv().await
    };
    let Some(queued) = queued else {
        return answer(500, &[], br#"{"errorType":"Stopped"}"#);
    };
    let request_id = {
        let mut counter = shared.counter.lock().unwrap_or_else(|e| e.into_inner());
        *counter += 1;
        format!(
            "{:08x}-0000-4000-8000-{:012x}",
            std::process::id(),
            *counter
        )
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let deadline = (now + queued.timeout).as_millis().to_string();
    let trace = format!(
        "Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0",
        now.as_secs(),
        now.as_nanos(),
        now.as_nanos() as u64
    );
    let body = queued.event.clone();
    let headers = [
        ("Lambda-Runtime-Aws-Request-Id", request_id.clone()),
        ("Lambda-Runtime-Deadline-Ms", deadline),
        (
            "Lambda-Runtime-Invoked-Function-Arn",
            shared.function_arn.clone(),
        ),
        ("Lambda-Runtime-Trace-Id", trace),
    ];
    shared.in_flight().insert(request_id, queued);
    answer(200, &headers, &body)
}

fn error_report(request: &Request) -> ErrorReport {
    let header_type = request
        .header("lambda-runtime-function-error-type")
        .map(str::to_owned);
    match serde_json::from_slice::<serde_json::Value>(&request.body) {
        Ok(body) if body.is_object() => ErrorReport {
            header_type,
            error_type: body["errorType"].as_str().unwrap_or_default().to_owned(),
            error_message: body["errorMessage"].as_str().unwrap_or_default().to_owned(),
        },
        _ => ErrorReport {
            header_type,
            error_type: String::new(),
            error_message: String::from_utf8_lossy(&request.body).into_owned(),
        },
    }
}

fn answer(status: u16, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// One request as received.
#[derive(Debug)]
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one request (a `Content-Length` or chunked body); `None` at end of stream.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> io::Result<Option<Request>> {
    let Some(head_end) =
        fill_until(stream, buffer, |b| find(b, b"\r\n\r\n").map(|p| p + 4)).await?
    else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    buffer.drain(..head_end);
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split_whitespace();
    let method = request_line.next().unwrap_or_default().to_owned();
    let path = request_line.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut request = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if request
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let Some(line_end) = fill_until(stream, buffer, |b| find(b, b"\r\n")).await? else {
                return Ok(None);
            };
            let size_text = String::from_utf8_lossy(&buffer[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            // The chunk, then its CRLF (after the last, empty chunk: the final CRLF).
            let total = line_end + 2 + size + 2;
            if fill_until(stream, buffer, |b| (b.len() >= total).then_some(total))
                .await?
                .is_none()
            {
                return Ok(None);
            }
            request
                .body
                .extend_from_slice(&buffer[line_end + 2..line_end + 2 + size]);
            buffer.drain(..total);
            if size == 0 {
                break;
            }
        }
    } else {
        let length: usize = request
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if fill_until(stream, buffer, |b| (b.len() >= length).then_some(length))
            .await?
            .is_none()
        {
            return Ok(None);
        }
        request.body = buffer.drain(..length).collect();
    }
    Ok(Some(request))
}

/// Reads into `buffer` until `done` finds what it needs; `None` at end of stream.
async fn fill_until(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
    done: impl Fn(&[u8]) -> Option<usize>,
) -> io::Result<Option<usize>> {
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(at) = done(buffer) {
            return Ok(Some(at));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn url(api: &RuntimeApi, path: &str) -> String {
        format!("http://{}{PREFIX}/{path}", api.address())
    }

    /// Plays a runtime: asks for the next event and answers it through `answer`.
    async fn runtime_step(
        api: &RuntimeApi,
        answer: impl FnOnce(
            &serde_json::Value,
        ) -> (&'static str, Vec<(&'static str, &'static str)>, String),
    ) -> reqwest::header::HeaderMap {
        let http = crate::http_client();
        let next = http
            .get(url(api, "invocation/next"))
            .send()
            .await
            .expect("next");
        assert_eq!(next.status(), 200);
        let headers = next.headers().clone();
        let event: serde_json::Value = next.json().await.expect("event");
        let id = headers["lambda-runtime-aws-request-id"]
            .to_str()
            .expect("id")
            .to_owned();
        let (kind, extra, body) = answer(&event);
        let mut post = http.post(url(api, &format!("invocation/{id}/{kind}")));
        for (k, v) in extra {
            post = post.header(k, v);
        }
        let posted = post.body(body).send().await.expect("post");
        assert_eq!(posted.status(), 202);
        // A second answer for the same id is refused.
        let again = http
            .post(url(api, &format!("invocation/{id}/response")))
            .body("{}")
            .send()
            .await
            .expect("post again");
        assert_eq!(again.status(), 400);
        headers
    }

    #[tokio::test]
    async fn an_event_reaches_the_runtime_with_the_documented_headers_and_its_response_returns() {
        let api = RuntimeApi::start("collector").await.expect("emulator");
        assert_eq!(api.polls(), 0);
        assert!(api.first_poll().is_none());
        let event = json!({"id": "cycle-1", "detail-type": "Scheduled Event"});
        let invoking = api.invoke(&event, Duration::from_secs(50));
        let playing = runtime_step(&api, |event| {
            ("response", vec![], json!({"echo": event["id"]}).to_string())
        });
        let before = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
        let (invocation, headers) = tokio::join!(invoking, playing);
        let invocation = invocation.expect("answered");
        assert_eq!(invocation.json().expect("json"), json!({"echo": "cycle-1"}));
        assert_eq!(
            headers["lambda-runtime-aws-request-id"],
            invocation.request_id.as_str()
        );
        assert_eq!(
            headers["lambda-runtime-invoked-function-arn"],
            "arn:aws:lambda:us-east-1:123456789012:function:collector"
        );
        let deadline: u128 = headers["lambda-runtime-deadline-ms"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("epoch ms");
        let expected = (before + Duration::from_secs(50)).as_millis();
        assert!(
            deadline >= expected && deadline < expected + 5_000,
            "deadline {deadline} vs {expected}"
        );
        let trace = headers["lambda-runtime-trace-id"].to_str().expect("ascii");
        assert!(trace.starts_with("Root=1-"), "{trace}");
        assert_eq!(api.polls(), 1);
        assert!(api.first_poll().is_some());
        assert!(api.init_error().is_none());
    }

    #[tokio::test]
    async fn an_invocation_error_is_returned_with_its_type_and_message() {
        let api = RuntimeApi::start("planner").await.expect("emulator");
        let (invocation, _) = tokio::join!(
            api.invoke(&json!({"Records": []}), Duration::from_secs(5)),
            runtime_step(&api, |_| (
                "error",
                vec![("Lambda-Runtime-Function-Error-Type", "Runtime.HandlerError")],
                json!({"errorType": "HandlerError", "errorMessage": "boom", "stackTrace": []})
                    .to_string()
            ))
        );
        let invocation = invocation.expect("answered");
        match &invocation.outcome {
            Outcome::Error(report) => {
                assert_eq!(report.header_type.as_deref(), Some("Runtime.HandlerError"));
                assert_eq!(report.error_type, "HandlerError");
                assert_eq!(report.error_message, "boom");
            }
            other => panic!("expected an error, got {other:?}"),
        }
        assert!(invocation.json().is_err());
    }

    #[tokio::test]
    async fn an_init_error_is_recorded_and_ends_a_pending_invocation() {
        let api = RuntimeApi::start("executor").await.expect("emulator");
        let report = async {
            let posted = crate::http_client()
                .post(url(&api, "init/error"))
                .header("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")
                .body(r#"{"errorType":"Runtime.InitError","errorMessage":"EVENT_BUS_NAME is not set"}"#)
                .send()
                .await
                .expect("post");
            assert_eq!(posted.status(), 202);
        };
        let (invoked, ()) = tokio::join!(api.invoke(&json!({}), Duration::from_secs(5)), report);
        match invoked {
            Err(InvokeError::Init(report)) => {
                assert_eq!(report.error_message, "EVENT_BUS_NAME is not set")
            }
            other => panic!("expected the init error, got {other:?}"),
        }
        assert!(matches!(
            api.ready(Duration::from_secs(1)).await,
            Err(InvokeError::Init(_))
        ));
        assert_eq!(
            api.wait_init_error(Duration::from_millis(10))
                .await
                .map(|r| r.header_type),
            Some(Some("Runtime.InitError".to_owned()))
        );
    }

    #[tokio::test]
    async fn chunked_bodies_unknown_paths_and_a_silent_runtime_are_handled() {
        let api = RuntimeApi::start("collector").await.expect("emulator");
        // No runtime yet: not ready.
        assert!(matches!(
            api.ready(Duration::from_millis(50)).await,
            Err(InvokeError::Timeout(_))
        ));

        // A raw chunked response on a kept-alive connection, after an unknown path.
        let mut stream = TcpStream::connect(api.address()).await.expect("connect");
        stream
            .write_all(format!("GET {PREFIX}/nothing HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .expect("write");
        let mut buffer = Vec::new();
        let head = read_answer_head(&mut stream, &mut buffer).await;
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");

        let invoking = api.invoke(&json!({"n": 1}), Duration::from_secs(5));
        let playing = async {
            let http = crate::http_client();
            let next = http
                .get(url(&api, "invocation/next"))
                .send()
                .await
                .expect("next");
            let id = next.headers()["lambda-runtime-aws-request-id"]
                .to_str()
                .expect("id")
                .to_owned();
            let body = format!(
                "POST {PREFIX}/invocation/{id}/response HTTP/1.1\r\nHost: x\r\n\
                 Transfer-Encoding: chunked\r\n\r\n3\r\n{{\"a\r\n5\r\n\":42}}\r\n0\r\n\r\n"
            );
            stream.write_all(body.as_bytes()).await.expect("write");
            let head = read_answer_head(&mut stream, &mut buffer).await;
            assert!(head.starts_with("HTTP/1.1 202"), "{head}");
        };
        let (invocation, ()) = tokio::join!(invoking, playing);
        assert_eq!(
            invocation.expect("answered").json().expect("json"),
            json!({"a": 42})
        );
    }

    async fn read_answer_head(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> String {
        let end = fill_until(stream, buffer, |b| find(b, b"\r\n\r\n").map(|p| p + 4))
            .await
            .expect("read")
            .expect("an answer");
        let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        fill_until(stream, buffer, |b| (b.len() >= end + length).then_some(0))
            .await
            .expect("read")
            .expect("the body");
        buffer.drain(..end + length);
        head
    }
}
