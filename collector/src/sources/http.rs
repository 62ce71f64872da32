//! HTTP JSON source (the original's `third_party`): GET or POST a URL, read numbers out of the
//! JSON answer at field paths.
//!
//! - **One request per distinct source per cycle.** Sources with the same URL, method, payload
//!   and headers are asked once, whichever services and clusters read them; the longest of
//!   their timeouts applies.
//! - Requests run concurrently, at most [`HttpConfig::concurrency`] at once in all and at most
//!   [`HttpConfig::per_host_concurrency`] at once to one host (scheme, host and port), so that
//!   fifty services reading one RabbitMQ do not open fifty connections at once to a server
//!   whose listen backlog may be small; each has its source's `timeout:` (default 5 s, counted
//!   from when it is sent), cut short by the cycle's deadline.
//! - One client per Lambda instance, whose pool keeps connections alive between requests and
//!   cycles (at most [`HttpConfig::per_host_concurrency`] idle per host): the requests to one
//!   host reuse a few connections instead of opening one each.
//! - reqwest with rustls, certificates verified; bodies over [`HttpConfig::max_body_bytes`]
//!   are refused.
//! - Redirects are followed here, not by reqwest, at most [`HttpConfig::max_redirects`] of
//!   them, under [`redirects`]' rules: none to another origin, no POST sent again to another
//!   path, unless the source allows it (`allow_cross_origin_redirects`,
//!   `allow_post_redirects`); headers and credentials never leave the first origin.
//! - Link-local and instance metadata addresses ([`addresses`]) are refused, in the URL, in a
//!   redirect and in what a host name resolves to, unless the source sets `allow_link_local`.
//! - Basic auth comes from credentials in the URL (`https://user:pass@host/...`): reqwest takes
//!   them out of the URL, percent-decodes them and sends them as an `Authorization: Basic`
//!   header marked sensitive (tested against a local server and RabbitMQ).
//! - Non-2xx → each alias of the source is missing with `http_status`; a body that is not JSON
//!   → `invalid_json`; a failed request or a refused redirect → `request`, whose text says why;
//!   a connection the server reset → `reset`; too slow → `timeout`.
//!
//! **Secrets never reach logs or reports**: URLs are logged through
//! [`shared::redact::redact_url`] (`https://***@host/path?***`: no credentials, no query
//! string), header values are never logged, and reqwest errors lose their URL (`without_url`)
//! before their text is recorded (and any URL quoted in it is redacted too).

mod addresses;
mod redirects;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, LOCATION};
use reqwest::Url;
use serde_json::Value;
use shared::definition::{HttpAllowances, HttpMethod, HttpSource, JsonPath, Statistic};
use shared::messages::MissingReason;
use shared::redact::{redact_text, redact_url};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::cloudwatch::round_ms;
use super::{json_value, Outcome, Target};

/// Requests in flight at once, by default (`HTTP_CONCURRENCY`).
pub const DEFAULT_CONCURRENCY: usize = 128;
/// Requests in flight at once to one host, by default (`HTTP_PER_HOST_CONCURRENCY`).
pub const DEFAULT_PER_HOST_CONCURRENCY: usize = 8;
/// Redirects followed, by default.
pub const DEFAULT_MAX_REDIRECTS: usize = 5;
/// Largest response body read, by default (16 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How the HTTP source behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpConfig {
    /// Requests in flight at once (at least 1).
    pub concurrency: usize,
    /// Requests in flight at once to one host (scheme, host and port; at least 1), and idle
    /// connections kept per host.
    pub per_host_concurrency: usize,
    /// Redirects followed before giving up.
    pub max_redirects: usize,
    /// Largest response body read.
    pub max_body_bytes: usize,
    /// Time to establish a connection (also bounded by each request's timeout).
    pub connect_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            concurrency: DEFAULT_CONCURRENCY,
            per_host_concurrency: DEFAULT_PER_HOST_CONCURRENCY,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// The HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client")]
pub struct ClientError(#[source] reqwest::Error);

/// The identity of a request: sources equal in all of these are asked once.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestKey {
    /// The URL, credentials included.
    pub url: String,
    /// GET or POST.
    pub method: Method,
    /// The JSON body, serialised (object keys sorted).
    pub payload: Option<String>,
    /// Extra headers in file order.
    pub headers: Vec<(String, String)>,
    /// What the source allows beyond the defaults (redirects, addresses).
    pub allow: HttpAllowances,
}

impl std::fmt::Debug for RequestKey {
    // URLs and header values may hold secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestKey")
            .field("url", &redact_url(&self.url))
            .field("method", &self.method)
            .field("payload", &self.payload.as_ref().map(|_| "…"))
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("allow", &self.allow)
            .finish()
    }
}

/// [`HttpMethod`] with an order, for [`RequestKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
}

impl From<HttpMethod> for Method {
    fn from(m: HttpMethod) -> Self {
        match m {
            HttpMethod::Get => Method::Get,
            HttpMethod::Post => Method::Post,
        }
    }
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// One request of the cycle and the values read from its answer.
#[derive(Debug, Clone)]
pub struct PlannedRequest {
    /// What to send.
    pub key: RequestKey,
    /// The longest timeout of the sources sharing the request.
    pub timeout: Duration,
    /// `(target, field path)` for every alias reading the answer.
    pub reads: Vec<(Target, Result<JsonPath, String>)>,
}

impl PlannedRequest {
    /// The URL for logs: credentials replaced by `***` and the query string (which may carry
    /// API keys) by `?***`.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.key.url)
    }
}

/// The requests for `items` (pure): one per distinct source, in a deterministic order.
pub fn plan<'a>(
    items: impl IntoIterator<Item = (Target, &'a HttpSource, &'a Statistic)>,
) -> Vec<PlannedRequest> {
    let mut by_key: BTreeMap<RequestKey, PlannedRequest> = BTreeMap::new();
    for (target, source, stat) in items {
        let key = RequestKey {
            url: source.url.clone(),
            method: source.method.into(),
            payload: source.payload.as_ref().map(Value::to_string),
            headers: source.headers.clone(),
            allow: source.allow,
        };
        let path = match &stat.path {
            Some(path) => Ok(path.clone()),
            None => JsonPath::parse(&stat.name),
        };
        let entry = by_key.entry(key.clone()).or_insert_with(|| PlannedRequest {
            key,
            timeout: source.timeout,
            reads: Vec::new(),
        });
        entry.timeout = entry.timeout.max(source.timeout);
        entry.reads.push((target, path));
    }
    by_key.into_values().collect()
}

/// The outcome of each read of `request` from its JSON answer, or from the reason there is
/// none (pure).
pub fn interpret(
    request: &PlannedRequest,
    answer: &Result<Value, MissingReason>,
) -> Vec<(Target, Outcome)> {
    request
        .reads
        .iter()
        .map(|(target, path)| {
            let outcome = match (answer, path) {
                (Err(reason), _) => Err(reason.clone()),
                (Ok(doc), Ok(path)) => json_value::extract(doc, path),
                // Validated at load; kept total for statistics built by hand.
                (Ok(_), Err(problem)) => Err(MissingReason::MissingField {
                    path: format!("invalid path: {problem}"),
                }),
            };
            (target.clone(), outcome)
        })
        .collect()
}

/// Sends HTTP JSON requests with one shared client (built once per Lambda instance).
#[derive(Debug, Clone)]
pub struct HttpCollector {
    /// Resolves host names without link-local addresses.
    client: reqwest::Client,
    /// For the sources that set `allow_link_local`.
    link_local_client: reqwest::Client,
    config: HttpConfig,
}

impl HttpCollector {
    /// A collector with its client.
    pub fn new(config: HttpConfig) -> Result<Self, ClientError> {
        shared::aws::tls::install_default_provider();
        let builder = || {
            reqwest::Client::builder()
                // Followed in `send`, under the source's rules.
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(config.connect_timeout)
                .pool_max_idle_per_host(config.per_host_concurrency.max(1))
                .user_agent(concat!(
                    "ecs-autoscale-collector/",
                    env!("CARGO_PKG_VERSION")
                ))
        };
        let client = builder()
            .dns_resolver(addresses::NoLinkLocal)
            .build()
            .map_err(ClientError)?;
        let link_local_client = builder().build().map_err(ClientError)?;
        Ok(HttpCollector {
            client,
            link_local_client,
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// Sends every request (at most `concurrency` at once, and `per_host_concurrency` to one
    /// host) and returns every target's outcome.
    ///
    /// Whatever is not answered by `deadline` is `timeout` (started) or `not_collected`
    /// (still waiting for its turn); this returns shortly after `deadline` at the latest.
    pub async fn collect(
        &self,
        requests: Vec<PlannedRequest>,
        deadline: Instant,
    ) -> Vec<(Target, Outcome)> {
        let limit = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let mut per_host: HashMap<String, Arc<Semaphore>> = HashMap::new();
        let requests: Vec<Arc<PlannedRequest>> = requests.into_iter().map(Arc::new).collect();
        let mut tasks = JoinSet::new();
        for (index, request) in requests.iter().enumerate() {
            let host = per_host
                .entry(host_of(&request.key.url))
                .or_insert_with(|| {
                    Arc::new(Semaphore::new(self.config.per_host_concurrency.max(1)))
                })
                .clone();
            let (this, request, limit) = (self.clone(), request.clone(), limit.clone());
            tasks.spawn(async move {
                // The host's turn first, then a global one: a request waiting for its host
                // holds no global permit another host could use.
                let permits = async {
                    let host = host.acquire_owned().await.ok()?;
                    let global = limit.acquire_owned().await.ok()?;
                    Some((host, global))
                };
                let permits = tokio::select! {
                    permits = permits => permits,
                    _ = tokio::time::sleep_until(deadline) => None,
                };
                let answer = match permits {
                    Some(_permits) => this.fetch(&request, deadline).await,
                    None => Err(MissingReason::NotCollected),
                };
                log_outcome(&request, &answer);
                (index, interpret(&request, &answer))
            });
        }
        let mut out = Vec::new();
        let mut done = vec![false; requests.len()];
        // Every task ends by itself at the deadline; the grace is for the ones finishing then.
        let hard_stop = deadline + Duration::from_millis(500);
        loop {
            match tokio::time::timeout_at(hard_stop, tasks.join_next()).await {
                Ok(Some(Ok((index, outcomes)))) => {
                    done[index] = true;
                    out.extend(outcomes);
                }
                Ok(Some(Err(err))) => tracing::error!(error = %err, "an HTTP source task failed"),
                Ok(None) => break,
                Err(_) => {
                    tasks.abort_all();
                    break;
                }
            }
        }
        for (index, request) in requests.iter().enumerate() {
            if !done[index] {
                out.extend(interpret(request, &Err(MissingReason::NotCollected)));
            }
        }
        out
    }

    /// One request: its JSON answer, or why there is none.
    pub async fn fetch(
        &self,
        request: &PlannedRequest,
        deadline: Instant,
    ) -> Result<Value, MissingReason> {
        let started = Instant::now();
        let budget = request
            .timeout
            .min(deadline.saturating_duration_since(started));
        if budget.is_zero() {
            return Err(MissingReason::NotCollected);
        }
        let timed_out = || MissingReason::Timeout {
            after_secs: round_ms(started.elapsed()),
        };
        let headers = headers(request)?;
        // The outer timeout also bounds the redirects and reading the body.
        match tokio::time::timeout(budget, self.send(request, headers, budget)).await {
            Ok(Err(Failure::Timeout)) | Err(_) => Err(timed_out()),
            Ok(Err(Failure::Reason(reason))) => Err(reason),
            Ok(Ok(body)) => serde_json::from_slice(&body).map_err(|e| MissingReason::InvalidJson {
                error: e.to_string(),
            }),
        }
    }

    /// Sends the request and follows its redirects (see [`redirects`]); the final answer's
    /// body.
    async fn send(
        &self,
        request: &PlannedRequest,
        headers: HeaderMap,
        budget: Duration,
    ) -> Result<Vec<u8>, Failure> {
        let key = &request.key;
        let refuse = |error: String| Failure::Reason(MissingReason::Request { error });
        // Checked at load; a URL built by hand is refused the same way.
        let first = Url::parse(&key.url).map_err(|e| refuse(format!("invalid URL: {e}")))?;
        let client = if key.allow.link_local {
            &self.link_local_client
        } else {
            &self.client
        };
        let mut hop = redirects::Hop {
            url: first.clone(),
            method: key.method,
            payload: key.payload.is_some(),
            cross_origin: false,
        };
        let mut left_origin = false;
        let mut redirects = 0;
        let mut response = loop {
            if !key.allow.link_local {
                if let Some(why) = addresses::refused(&hop.url) {
                    return Err(refuse(why));
                }
            }
            left_origin |= hop.cross_origin;
            let method = match hop.method {
                Method::Get => reqwest::Method::GET,
                Method::Post => reqwest::Method::POST,
            };
            // reqwest moves `user:pass@` from the URL into a sensitive basic-auth header;
            // `redirects` takes them out of a URL of another origin.
            let mut builder = client.request(method, hop.url.clone()).timeout(budget);
            if !left_origin {
                builder = builder.headers(headers.clone());
            }
            if let (true, Some(payload)) = (hop.payload, &key.payload) {
                builder = builder
                    .header(CONTENT_TYPE, "application/json")
                    .body(payload.clone());
            }
            let response = builder.send().await.map_err(Failure::from_reqwest)?;
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok());
            let next = redirects::next_hop(
                &first,
                &hop.url,
                hop.method,
                response.status().as_u16(),
                location,
                key.allow,
            )
            .map_err(refuse)?;
            match next {
                None => break response,
                Some(_) if redirects >= self.config.max_redirects => {
                    return Err(refuse(format!(
                        "too many redirects (more than {})",
                        self.config.max_redirects
                    )));
                }
                Some(next) => {
                    redirects += 1;
                    hop = next;
                }
            }
        };
        let status = response.status();
        if !status.is_success() {
            return Err(Failure::Reason(MissingReason::HttpStatus {
                status: status.as_u16(),
            }));
        }
        let limit = self.config.max_body_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > limit as u64)
        {
            return Err(Failure::too_large(limit));
        }
        let mut body = Vec::new();
        // Bounded: each chunk is appended only while the body stays under the limit.
        while let Some(chunk) = response.chunk().await.map_err(Failure::from_reqwest)? {
            if body.len() + chunk.len() > limit {
                return Err(Failure::too_large(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// The source's extra headers, each value marked sensitive (never quoted in errors: it may be
/// a secret).
fn headers(request: &PlannedRequest) -> Result<HeaderMap, MissingReason> {
    let mut headers = HeaderMap::new();
    for (name, value) in &request.key.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| MissingReason::Request {
            error: format!("invalid header name `{name}`"),
        })?;
        let mut value = HeaderValue::from_str(value).map_err(|_| MissingReason::Request {
            error: format!("invalid value for header `{name}`"),
        })?;
        value.set_sensitive(true);
        headers.append(name, value);
    }
    Ok(headers)
}

/// What requests to one host share: scheme, host and port (`http://host:port`); the URL
/// itself when it does not parse (its request fails anyway).
fn host_of(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => parsed.origin().ascii_serialization(),
        Err(_) => url.to_owned(),
    }
}

enum Failure {
    Timeout,
    Reason(MissingReason),
}

impl Failure {
    fn from_reqwest(err: reqwest::Error) -> Self {
        // Before the timeout test: a reset is an answer, however long it took to come.
        if is_reset(&err) {
            return Failure::Reason(MissingReason::Reset);
        }
        if err.is_timeout() {
            return Failure::Timeout;
        }
        Failure::Reason(MissingReason::Request {
            error: error_chain(&err.without_url()),
        })
    }

    fn too_large(limit: usize) -> Self {
        Failure::Reason(MissingReason::Request {
            error: format!("response body larger than {limit} bytes"),
        })
    }
}

/// Whether the server (or something on the way) reset the connection: an I/O error of that
/// kind somewhere in the error's sources.
fn is_reset(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    // Bounded: error chains are short.
    for _ in 0..16 {
        let Some(e) = source else { return false };
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
            ) {
                return true;
            }
        }
        source = e.source();
    }
    false
}

/// An error and its sources, `: `-separated (reqwest's own text is terse).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    // Bounded: error chains are short, but never trust a loop over foreign data.
    for _ in 0..8 {
        let Some(s) = source else { break };
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    // Defence in depth: an error text that quotes a URL with credentials gets them redacted.
    redact_text(&text)
}

fn log_outcome(request: &PlannedRequest, answer: &Result<Value, MissingReason>) {
    match answer {
        Ok(_) => tracing::debug!(
            url = %request.redacted_url(),
            method = request.key.method.as_str(),
            aliases = request.reads.len(),
            "HTTP source answered"
        ),
        Err(reason) => tracing::warn!(
            url = %request.redacted_url(),
            method = request.key.method.as_str(),
            aliases = request.reads.len(),
            %reason,
            "HTTP source failed"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn source(url: &str, method: HttpMethod, payload: Option<Value>, names: &[&str]) -> HttpSource {
        HttpSource {
            url: url.into(),
            method,
            payload,
            headers: vec![("Authorization".into(), "Bearer t0ken".into())],
            timeout: Duration::from_secs(5),
            statistics: names
                .iter()
                .map(|n| Statistic {
                    name: (*n).into(),
                    alias: n.replace('.', "_"),
                    default: None,
                    path: JsonPath::parse(n).ok(),
                })
                .collect(),
            allow: Default::default(),
        }
    }

    #[test]
    fn identical_sources_are_asked_once() {
        let a = source(
            "https://u:p@h/q",
            HttpMethod::Get,
            None,
            &["messages_ready", "messages"],
        );
        let mut b = source(
            "https://u:p@h/q",
            HttpMethod::Get,
            None,
            &["messages_unacknowledged"],
        );
        b.timeout = Duration::from_secs(9);
        let c = source(
            "https://u:p@h/q",
            HttpMethod::Post,
            Some(json!({"a": 1})),
            &["x"],
        );
        let d = source(
            "https://u:p@h/q",
            HttpMethod::Post,
            Some(json!({"a": 2})),
            &["x"],
        );
        let mut items = Vec::new();
        for (cluster, src) in [("one", &a), ("two", &b), ("one", &c), ("one", &d)] {
            for stat in &src.statistics {
                items.push((Target::new(cluster, "worker", &stat.alias), src, stat));
            }
        }
        let requests = plan(items);
        assert_eq!(
            requests.len(),
            3,
            "a and b share a request; c and d differ by payload"
        );
        let shared = requests
            .iter()
            .find(|r| r.key.method == Method::Get)
            .expect("the GET request");
        assert_eq!(shared.reads.len(), 3);
        assert_eq!(
            shared.timeout,
            Duration::from_secs(9),
            "the longest timeout"
        );
    }

    #[test]
    fn answers_and_failures_reach_every_read() {
        let a = source("http://h/", HttpMethod::Get, None, &["a", "b.c", "d"]);
        let items = a
            .statistics
            .iter()
            .map(|s| (Target::new("c", "s", &s.alias), &a, s));
        let requests = plan(items);
        let doc = json!({"a": 1, "b": {"c": "2.5"}, "d": true});
        let outcomes: Vec<Outcome> = interpret(&requests[0], &Ok(doc))
            .into_iter()
            .map(|(_, o)| o)
            .collect();
        assert_eq!(outcomes[0], Ok(1.0));
        assert_eq!(outcomes[1], Ok(2.5));
        assert!(matches!(outcomes[2], Err(MissingReason::NotANumber { .. })));
        let failed = interpret(
            &requests[0],
            &Err(MissingReason::HttpStatus { status: 503 }),
        );
        assert!(failed
            .iter()
            .all(|(_, o)| *o == Err(MissingReason::HttpStatus { status: 503 })));
    }

    #[test]
    fn requests_to_one_host_share_its_limit_whatever_their_path_or_credentials() {
        assert_eq!(
            host_of("https://u:p@rabbit.example:15672/api/queues/%2F/a?x=1"),
            "https://rabbit.example:15672"
        );
        assert_eq!(
            host_of("https://rabbit.example:15672/api/queues/%2F/b"),
            host_of("https://other:secret@rabbit.example:15672/x")
        );
        assert_eq!(host_of("http://h/q"), "http://h");
        assert_ne!(host_of("http://h/q"), host_of("https://h/q"));
        assert_ne!(host_of("http://h:81/q"), host_of("http://h/q"));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let a = source("https://user:hunter2@h/q", HttpMethod::Get, None, &["a"]);
        let requests = plan(
            a.statistics
                .iter()
                .map(|s| (Target::new("c", "s", &s.alias), &a, s)),
        );
        let text = format!("{:?}", requests);
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("t0ken"), "{text}");
        assert!(text.contains("***@h/q"), "{text}");
    }

    #[test]
    fn logged_urls_hide_credentials_and_queries() {
        let a = source(
            "https://u:p4ss@h:8080/api/queues/%2F/celery?key=s3cret#frag",
            HttpMethod::Get,
            None,
            &["a"],
        );
        let requests = plan(
            a.statistics
                .iter()
                .map(|s| (Target::new("c", "s", &s.alias), &a, s)),
        );
        assert_eq!(
            requests[0].redacted_url(),
            "https://***@h:8080/api/queues/%2F/celery?***"
        );
    }

    #[test]
    fn urls_in_error_text_are_redacted() {
        #[derive(Debug)]
        struct Quoting;
        impl std::fmt::Display for Quoting {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("refused (http://u:pa/ss@host/x?k=s3cret)")
            }
        }
        impl std::error::Error for Quoting {}
        let text = error_chain(&Quoting);
        assert!(
            !text.contains("pa/ss") && !text.contains("s3cret"),
            "{text}"
        );
        assert!(text.contains("(http://***@host/x?***"), "{text}");
    }
}
