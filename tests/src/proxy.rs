//! The plumbing of a loopback HTTP/1.1 proxy in front of moto: reading requests, forwarding
//! them, and reading and writing the AWS protocols' answers. [`crate::strict`] builds on it.
//!
//! Requests are forwarded one per upstream connection (`Connection: close`), so answers are
//! read to the end of the stream.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One HTTP request as received.
#[derive(Debug, Clone)]
pub struct Request {
    /// Request line and headers, `\r\n`-separated, ending with the blank line.
    pub head: String,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.head, name)
    }

    /// Whether the request speaks a JSON protocol (`X-Amz-Target`: ECS, SQS, EventBridge),
    /// rather than the query protocol (Auto Scaling, CloudWatch 1.99).
    pub fn is_json(&self) -> bool {
        self.header("x-amz-target").is_some()
    }

    /// The operation: the last part of `X-Amz-Target`, else the `Action` form field.
    pub fn operation(&self) -> String {
        if let Some(target) = self.header("x-amz-target") {
            return target.rsplit('.').next().unwrap_or(target).to_owned();
        }
        self.form_value("Action")
            .unwrap_or_else(|| "unknown".to_owned())
    }

    /// The body as JSON (JSON protocols).
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body's form fields, percent-decoded (query protocol).
    pub fn form(&self) -> Vec<(String, String)> {
        String::from_utf8_lossy(&self.body)
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(key), percent_decode(value))
            })
            .collect()
    }

    /// One form field.
    pub fn form_value(&self, key: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find_map(|(k, v)| (k == key).then_some(v))
    }

    /// The same request with another body (`Content-Length` follows).
    pub fn with_body(&self, body: Vec<u8>) -> Request {
        Request {
            head: set_content_length(&self.head, body.len()),
            body,
        }
    }
}

/// A raw HTTP answer split into its head and its (de-chunked) body.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status line and headers.
    pub head: String,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// Splits a raw answer; a chunked body is decoded.
    pub fn parse(raw: &[u8]) -> Answer {
        let split = find(raw, b"\r\n\r\n").map_or(raw.len(), |p| p + 4);
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let body = &raw[split..];
        let body = if header(&head, "transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            dechunk(body)
        } else {
            body.to_vec()
        };
        Answer { head, body }
    }

    /// The HTTP status code (0 when unreadable).
    pub fn status(&self) -> u16 {
        self.head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// The answer as bytes, with `Content-Length` set and no transfer encoding.
    pub fn into_bytes(self) -> Vec<u8> {
        let mut head = String::new();
        for (i, line) in self.head.trim_end().split("\r\n").enumerate() {
            let skip = i > 0
                && line.split_once(':').is_some_and(|(k, _)| {
                    let k = k.trim();
                    k.eq_ignore_ascii_case("transfer-encoding")
                        || k.eq_ignore_ascii_case("content-length")
                });
            if !skip {
                head.push_str(line);
                head.push_str("\r\n");
            }
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// What a proxy does with each request.
pub trait Handler: Send + Sync + 'static {
    /// The raw answer to send back for `request`; `upstream` is moto's port.
    fn handle(
        self: Arc<Self>,
        request: Request,
        upstream: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<u8>>> + Send>>;
}

/// A proxy listening on a free loopback port; stopped when dropped.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Listens on 127.0.0.1 (a free port) and answers every request through `handler`,
    /// which forwards to 127.0.0.1:`upstream` as it sees fit.
    pub async fn start<H: Handler>(upstream: u16, handler: Arc<H>) -> io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let handler = Arc::clone(&handler);
                tokio::spawn(async move {
                    let _ = serve(client, upstream, handler).await;
                });
            }
        });
        Ok(Proxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            task,
        })
    }
}

/// One client connection: requests in sequence until the client closes it.
async fn serve<H: Handler>(
    mut client: TcpStream,
    upstream: u16,
    handler: Arc<H>,
) -> io::Result<()> {
    let mut buffer = Vec::new();
    while let Some(request) = read_request(&mut client, &mut buffer).await? {
        let answer = Arc::clone(&handler).handle(request, upstream).await?;
        client.write_all(&answer).await?;
        // moto answers `Connection: close` to forwarded requests; follow it.
        let head_end = find(&answer, b"\r\n\r\n").unwrap_or(answer.len());
        if header(&String::from_utf8_lossy(&answer[..head_end]), "connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
        {
            return Ok(());
        }
    }
    Ok(())
}

/// Reads one request; `None` at end of stream.
pub async fn read_request(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> io::Result<Option<Request>> {
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
    Ok(Some(Request { head, body }))
}

/// Sends the request to moto on a fresh connection and reads the whole answer.
pub async fn forward(port: u16, request: &Request) -> io::Result<Vec<u8>> {
    let mut upstream = TcpStream::connect(("127.0.0.1", port)).await?;
    let mut head = String::new();
    for (i, line) in request.head.trim_end().split("\r\n").enumerate() {
        if i > 0
            && line
                .split_once(':')
                .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("connection"))
        {
            continue;
        }
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    upstream.write_all(head.as_bytes()).await?;
    upstream.write_all(&request.body).await?;
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer).await?;
    Ok(answer)
}

/// An error answer in the request's protocol: `{"__type": code, "message"}` for JSON, an
/// `ErrorResponse` document for the query protocol (`sender`: a client error).
pub fn error_answer(
    json: bool,
    status: u16,
    json_code: &str,
    query_code: &str,
    message: &str,
) -> Vec<u8> {
    let kind = if status < 500 { "Sender" } else { "Receiver" };
    let (content_type, body, code) = if json {
        (
            "application/x-amz-json-1.1",
            serde_json::json!({"__type": json_code, "message": message}).to_string(),
            json_code,
        )
    } else {
        (
            "text/xml",
            format!(
                "<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">\
                 <Error><Type>{kind}</Type><Code>{query_code}</Code>\
                 <Message>{}</Message></Error>\
                 <RequestId>proxy</RequestId></ErrorResponse>",
                xml_escape(message)
            ),
            query_code,
        )
    };
    let reason = if status < 500 {
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

/// A 200 answer with a JSON body (SQS's awsJson1_0).
pub fn json_answer(body: &serde_json::Value) -> Vec<u8> {
    let body = body.to_string();
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n\
         x-amzn-RequestId: proxy\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
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

fn set_content_length(head: &str, length: usize) -> String {
    let mut out = String::new();
    for (i, line) in head.trim_end().split("\r\n").enumerate() {
        if i > 0
            && line
                .split_once(':')
                .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(&format!("Content-Length: {length}\r\n\r\n"));
    out
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = find(body, b"\r\n") {
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            break;
        };
        let start = line_end + 2;
        if size == 0 || start + size > body.len() {
            break;
        }
        out.extend_from_slice(&body[start..start + size]);
        body = &body[(start + size + 2).min(body.len())..];
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_are_percent_decoded() {
        let r = Request {
            head: "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n".into(),
            body: b"Action=SetDesiredCapacity&AutoScalingGroupName=my%2Dasg&X=a+b&Y=%".to_vec(),
        };
        assert_eq!(r.operation(), "SetDesiredCapacity");
        assert_eq!(
            r.form_value("AutoScalingGroupName").as_deref(),
            Some("my-asg")
        );
        assert_eq!(r.form_value("X").as_deref(), Some("a b"));
        assert_eq!(r.form_value("Y").as_deref(), Some("%"));
    }

    #[test]
    fn chunked_answers_are_decoded_and_rewritten_with_a_length() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let a = Answer::parse(raw);
        assert_eq!(a.status(), 200);
        assert_eq!(a.body, b"abcde");
        let bytes = String::from_utf8(a.into_bytes()).unwrap();
        assert!(bytes.ends_with("Content-Length: 5\r\n\r\nabcde"), "{bytes}");
        assert!(!bytes.to_ascii_lowercase().contains("transfer-encoding"));
    }

    #[test]
    fn a_new_body_sets_its_length() {
        let r = Request {
            head: "POST / HTTP/1.1\r\nContent-Length: 2\r\nHost: x\r\n\r\n".into(),
            body: b"{}".to_vec(),
        };
        let r = r.with_body(b"{\"a\":1}".to_vec());
        assert_eq!(r.header("content-length"), Some("7"));
        assert_eq!(r.header("host"), Some("x"));
    }
}
