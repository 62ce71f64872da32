//! A private RabbitMQ node for one test: started from the Debian package's scripts, bound to
//! 127.0.0.1 on free ports (AMQP, management, distribution, and its own epmd), with its own
//! config, data and logs in a temporary directory; stopped and removed when dropped, also when
//! the test fails.
//!
//! Install RabbitMQ first with `scripts/rabbitmq.sh` (the Makefile's `test` target does).

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The package's server script (run directly: the `/usr/sbin` wrapper switches users and
/// drops our environment).
pub const RABBITMQ_SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";
/// How long a node may take to answer on its management port.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a node may take to stop on SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

static NODES: AtomicUsize = AtomicUsize::new(0);

/// A running node. Its management API answers `guest`/`guest` (loopback only).
pub struct RabbitMq {
    dir: PathBuf,
    server: Option<Child>,
    epmd: Option<Child>,
    /// AMQP port.
    pub amqp_port: u16,
    /// Management HTTP port.
    pub management_port: u16,
    http: reqwest::Client,
}

impl RabbitMq {
    /// Starts a node; panics with the reason (and the node's log) when it cannot.
    pub async fn start() -> RabbitMq {
        let server = Path::new(RABBITMQ_SERVER);
        let epmd = which("epmd");
        let (true, Some(epmd)) = (server.is_file(), epmd) else {
            panic!(
                "rabbitmq-server is not installed ({RABBITMQ_SERVER} or epmd missing). \
                 Run `bash scripts/rabbitmq.sh` at the workspace root (as root: it installs the \
                 Debian package rabbitmq-server and enables the management plugin)"
            );
        };
        let n = NODES.fetch_add(1, Ordering::SeqCst);
        let id = format!("ecsas{}n{n}", std::process::id());
        let dir = std::env::temp_dir().join(format!("ecs-autoscale-rabbitmq-{id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("log")).expect("creating the node's directory");
        let [amqp_port, management_port, dist_port, epmd_port] = free_ports();

        let mut node = RabbitMq {
            dir: dir.clone(),
            server: None,
            epmd: None,
            amqp_port,
            management_port,
            http: reqwest::Client::new(),
        };
        // Our own epmd, on loopback only (the node is told not to start one).
        node.epmd = Some(
            Command::new(&epmd)
                .args(["-address", "127.0.0.1", "-port", &epmd_port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("starting epmd"),
        );
        let write = |name: &str, text: String| {
            std::fs::write(dir.join(name), text).expect("writing the node's configuration")
        };
        write(
            "rabbitmq.conf",
            format!(
                "listeners.tcp.default = 127.0.0.1:{amqp_port}\n\
                 management.tcp.ip = 127.0.0.1\n\
                 management.tcp.port = {management_port}\n\
                 loopback_users.guest = true\n"
            ),
        );
        write("enabled_plugins", "[rabbitmq_management].\n".into());
        write("rabbitmq-env.conf", String::new());
        let log = std::fs::File::create(dir.join("log/console.log")).expect("console log");
        let log2 = log.try_clone().expect("console log");
        node.server = Some(
            Command::new(server)
                .env("HOME", &dir)
                .env("RABBITMQ_CONF_ENV_FILE", dir.join("rabbitmq-env.conf"))
                .env("RABBITMQ_CONFIG_FILE", dir.join("rabbitmq.conf"))
                .env("RABBITMQ_ADVANCED_CONFIG_FILE", dir.join("advanced.config"))
                .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("enabled_plugins"))
                .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
                .env("RABBITMQ_LOG_BASE", dir.join("log"))
                .env("RABBITMQ_PID_FILE", dir.join("node.pid"))
                .env("RABBITMQ_NODENAME", format!("{id}@localhost"))
                .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
                .env("RABBITMQ_NODE_PORT", amqp_port.to_string())
                .env("RABBITMQ_DIST_PORT", dist_port.to_string())
                .env("ERL_EPMD_ADDRESS", "127.0.0.1")
                .env("ERL_EPMD_PORT", epmd_port.to_string())
                .env(
                    "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                    "-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}",
                )
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log2)
                // Its own process group: stopping it stops the VM and its helpers too.
                .process_group(0)
                .spawn()
                .expect("starting rabbitmq-server"),
        );
        node.wait_until_ready().await;
        node
    }

    /// `http://127.0.0.1:PORT`.
    pub fn management_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.management_port)
    }

    async fn wait_until_ready(&mut self) {
        let started = Instant::now();
        loop {
            let answer = self
                .http
                .get(format!("{}/api/overview", self.management_url()))
                .basic_auth("guest", Some("guest"))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if matches!(&answer, Ok(r) if r.status().is_success()) {
                return;
            }
            let exited = self
                .server
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                panic!(
                    "rabbitmq-server exited ({status}) before answering:\n{}",
                    self.log_tail()
                );
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                panic!(
                    "rabbitmq-server did not answer on 127.0.0.1:{} within {:?}:\n{}",
                    self.management_port,
                    STARTUP_TIMEOUT,
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The last lines of the node's logs, for failure messages.
    pub fn log_tail(&self) -> String {
        let mut out = String::new();
        if let Ok(entries) = std::fs::read_dir(self.dir.join("log")) {
            for entry in entries.flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                out.push_str(&format!("== {}\n", entry.path().display()));
                out.push_str(&lines[lines.len().saturating_sub(30)..].join("\n"));
                out.push('\n');
            }
        }
        out
    }

    /// `PUT /api/queues/{vhost}/{queue}` (durable).
    pub async fn declare_queue(&self, vhost: &str, queue: &str) {
        let url = format!("{}/api/queues/{vhost}/{queue}", self.management_url());
        let response = self
            .http
            .put(url)
            .basic_auth("guest", Some("guest"))
            .json(&serde_json::json!({"durable": true, "auto_delete": false}))
            .send()
            .await
            .expect("declaring the queue");
        assert!(
            response.status().is_success(),
            "declare queue: {}",
            response.status()
        );
    }

    /// Publishes `body` to `queue` through the default exchange of vhost `/`.
    pub async fn publish(&self, queue: &str, body: &str) {
        let url = format!(
            "{}/api/exchanges/%2F/amq.default/publish",
            self.management_url()
        );
        let response = self
            .http
            .post(url)
            .basic_auth("guest", Some("guest"))
            .json(&serde_json::json!({
                "properties": {"delivery_mode": 2},
                "routing_key": queue,
                "payload": body,
                "payload_encoding": "string",
            }))
            .send()
            .await
            .expect("publishing");
        let status = response.status();
        let answer: serde_json::Value = response.json().await.expect("publish answer");
        assert!(status.is_success(), "publish: {status} {answer}");
        assert_eq!(
            answer["routed"], true,
            "the message was not routed: {answer}"
        );
    }

    /// `messages_ready` of a queue of vhost `/` (None while the statistics are not there yet).
    pub async fn messages_ready(&self, queue: &str) -> Option<u64> {
        let url = format!("{}/api/queues/%2F/{queue}", self.management_url());
        let response = self
            .http
            .get(url)
            .basic_auth("guest", Some("guest"))
            .send()
            .await
            .ok()?;
        let doc: serde_json::Value = response.json().await.ok()?;
        doc.get("messages_ready")?.as_u64()
    }

    /// Polls until `messages_ready` of `queue` is `n` (RabbitMQ updates its statistics every few
    /// seconds); panics after `timeout`.
    pub async fn wait_for_ready_messages(&self, queue: &str, n: u64, timeout: Duration) {
        let started = Instant::now();
        let mut last = None;
        while started.elapsed() < timeout {
            last = self.messages_ready(queue).await;
            if last == Some(n) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("messages_ready of {queue} is {last:?}, not {n}, after {timeout:?}");
    }
}

impl Drop for RabbitMq {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let group = format!("-{}", server.id());
            let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
            let started = Instant::now();
            while started.elapsed() < STOP_TIMEOUT {
                if matches!(server.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            // Whatever is left of the group (the VM, its port helpers).
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = server.wait();
        }
        if let Some(mut epmd) = self.epmd.take() {
            let _ = epmd.kill();
            let _ = epmd.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Four distinct free loopback ports (all probed at once so they differ).
fn free_ports() -> [u16; 4] {
    let listeners: Vec<TcpListener> = (0..4)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("probing a free port"))
        .collect();
    let port = |i: usize| listeners[i].local_addr().expect("probe address").port();
    [port(0), port(1), port(2), port(3)]
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
