//! The moto server: one per test binary, started lazily, killed when the test process exits.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// Environment variable that overrides the path of the `moto_server` executable.
pub const MOTO_SERVER_ENV: &str = "MOTO_SERVER";

/// How long a freshly spawned server may take to answer HTTP.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Attempts to start the server (a new free port each time) before giving up.
const START_ATTEMPTS: usize = 3;

/// Runs `moto_server` in the background and kills it as soon as its stdin (a pipe held by the
/// test process) reaches end-of-file, i.e. when the test process exits for whatever reason.
/// `$0` = moto_server, `$1` = port, `$2` = log file. The watcher reads the pipe through fd 3
/// because a background list's stdin is /dev/null in a non-interactive shell.
const WRAPPER: &str = r#"exec 3<&0
"$0" -H 127.0.0.1 -p "$1" >"$2" 2>&1 </dev/null &
pid=$!
( read -r _ <&3; kill "$pid" 2>/dev/null; rm -f "$2" ) &
wait "$pid"
"#;

static SHARED: OnceLock<Moto> = OnceLock::new();

/// A running moto server bound to 127.0.0.1.
pub struct Moto {
    port: u16,
    endpoint: String,
    log: PathBuf,
    /// The wrapper's stdin: closing it (process exit) makes the wrapper kill the server.
    _lifeline: Mutex<ChildStdin>,
    /// The wrapper process (never waited for once the server is up).
    _wrapper: Mutex<Child>,
}

impl Moto {
    /// The server shared by every test of this binary, started on first use.
    ///
    /// Panics with instructions when the `moto_server` executable is missing or the server does
    /// not come up (this is test code: a panic is the clearest failure).
    pub fn shared() -> &'static Moto {
        SHARED.get_or_init(|| match Moto::start() {
            Ok(moto) => moto,
            Err(err) => panic!("testbed: could not start moto: {err:#}"),
        })
    }

    /// Path of the `moto_server` executable: `$MOTO_SERVER`, else `<workspace>/.venv/bin/moto_server`.
    pub fn executable() -> PathBuf {
        match std::env::var_os(MOTO_SERVER_ENV) {
            Some(path) if !path.is_empty() => PathBuf::from(path),
            _ => Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(".venv")
                .join("bin")
                .join("moto_server"),
        }
    }

    /// Starts a new server on a free loopback port and waits until it answers HTTP.
    pub fn start() -> Result<Moto> {
        Moto::start_with(&Moto::executable())
    }

    /// Starts a new server from the executable `exe` (see [`Moto::start`]).
    pub fn start_with(exe: &Path) -> Result<Moto> {
        if !exe.is_file() {
            bail!(
                "the moto server executable {} does not exist. Run `make venv` at the workspace \
                 root to create .venv with moto[server]==5.2.5, or point ${MOTO_SERVER_ENV} at a \
                 moto_server executable",
                exe.display()
            );
        }
        let mut last_error = anyhow!("no attempt made");
        for _ in 0..START_ATTEMPTS {
            match Moto::start_once(exe) {
                Ok(moto) => return Ok(moto),
                // Most likely another process took the port between probing and binding.
                Err(err) => last_error = err,
            }
        }
        Err(last_error)
    }

    fn start_once(exe: &Path) -> Result<Moto> {
        let port = free_port()?;
        let log = std::env::temp_dir().join(format!(
            "ecs-autoscale-moto-{}-{port}.log",
            std::process::id()
        ));
        let mut wrapper = Command::new("sh")
            .arg("-c")
            .arg(WRAPPER)
            .arg(exe)
            .arg(port.to_string())
            .arg(&log)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawning sh to run moto_server")?;
        let lifeline = wrapper
            .stdin
            .take()
            .context("the wrapper's stdin was not piped")?;

        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if http_request(port, "GET", "/moto-api/", None).is_ok() {
                break;
            }
            if let Some(status) = wrapper.try_wait().context("polling the moto wrapper")? {
                let output = std::fs::read_to_string(&log).unwrap_or_default();
                let _ = std::fs::remove_file(&log);
                bail!(
                    "moto_server on port {port} exited ({status}) before answering; its output:\n{}",
                    tail(&output, 40)
                );
            }
            if Instant::now() > deadline {
                // Dropping the lifeline makes the wrapper kill the server.
                drop(lifeline);
                let _ = wrapper.wait();
                bail!(
                    "moto_server on port {port} did not answer within {}s",
                    STARTUP_TIMEOUT.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Moto {
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
            _lifeline: Mutex::new(lifeline),
            _wrapper: Mutex::new(wrapper),
        })
    }

    /// The TCP port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The endpoint URL to give the SDK, e.g. `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The server's request log (removed when the test process exits).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Forgets every resource of every service: `POST /moto-api/reset`.
    pub async fn reset(&self) -> Result<()> {
        self.post("/moto-api/reset", "").await.map(drop)
    }

    /// Makes ECS tasks stay `RUNNING` when described (moto otherwise advances them towards
    /// `STOPPED` on every DescribeTasks).
    pub async fn keep_tasks_running(&self) -> Result<()> {
        let body = serde_json::json!({
            "model_name": "ecs::task",
            "transition": {"progression": "manual", "times": 1_000_000},
        });
        self.post("/moto-api/state-manager/set-transition", &body.to_string())
            .await
            .map(drop)
    }

    /// POSTs `body` (JSON) to `path` on the server; returns the response body of a 2xx answer.
    pub async fn post(&self, path: &str, body: &str) -> Result<String> {
        let (port, path_owned, body) = (self.port, path.to_owned(), body.to_owned());
        let (status, text) = tokio::task::spawn_blocking(move || {
            http_request(port, "POST", &path_owned, Some(&body))
        })
        .await
        .context("the HTTP request task failed")??;
        if !(200..300).contains(&status) {
            bail!("POST {path} answered HTTP {status}: {}", tail(&text, 10));
        }
        Ok(text)
    }
}

/// Asks the OS for a free port on 127.0.0.1 (released again before moto binds it).
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a probe socket")?;
    Ok(listener
        .local_addr()
        .context("reading the probe port")?
        .port())
}

/// A minimal blocking HTTP/1.1 exchange with `Connection: close`; returns status and body.
fn http_request(port: u16, method: &str, path: &str, body: Option<&str>) -> Result<(u16, String)> {
    let addr = ("127.0.0.1", port)
        .to_socket_addrs()?
        .next()
        .context("no loopback address")?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .with_context(|| format!("not an HTTP response: {:?}", tail(&text, 3)))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
