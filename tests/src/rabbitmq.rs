//! A private RabbitMQ node for a test or the demo: the Debian package's server script, bound to
//! 127.0.0.1 on free ports (AMQP, management, distribution, and its own epmd), with its config,
//! data and logs in a temporary directory; stopped and removed when dropped, also when a test
//! fails. Statistics refresh every second, so `messages_ready` follows publishing and draining
//! closely. Install RabbitMQ with `scripts/rabbitmq.sh` (`make test` does).

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The package's server script (run directly: the `/usr/sbin` wrapper switches users).
pub const RABBITMQ_SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(90);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// A running node; its management API answers `guest`/`guest` (loopback only).
pub struct RabbitMq {
    dir: PathBuf,
    server: Option<Child>,
    epmd: Option<Child>,
    /// Management HTTP port.
    pub management_port: u16,
    http: reqwest::Client,
}

impl RabbitMq {
    /// Starts a node and waits until its management API answers.
    pub async fn start() -> Result<RabbitMq> {
        let server = Path::new(RABBITMQ_SERVER);
        let epmd = which("epmd");
        let (true, Some(epmd)) = (server.is_file(), epmd) else {
            bail!(
                "rabbitmq-server is not installed ({RABBITMQ_SERVER} or epmd missing); run \
                 `bash scripts/rabbitmq.sh` (as root: it installs the Debian package)"
            );
        };
        let id = format!("ecsasdemo{}", std::process::id());
        let dir = std::env::temp_dir().join(format!("ecs-autoscale-demo-rabbitmq-{id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("log")).context("creating the node's directory")?;
        let [amqp_port, management_port, dist_port, epmd_port] = free_ports()?;
        let mut node = RabbitMq {
            dir: dir.clone(),
            server: None,
            epmd: None,
            management_port,
            http: crate::http_client(),
        };
        node.epmd = Some(
            Command::new(&epmd)
                .args(["-address", "127.0.0.1", "-port", &epmd_port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting epmd")?,
        );
        let write = |name: &str, text: String| {
            std::fs::write(dir.join(name), text).context("writing the node's configuration")
        };
        write(
            "rabbitmq.conf",
            format!(
                "listeners.tcp.default = 127.0.0.1:{amqp_port}\n\
                 management.tcp.ip = 127.0.0.1\n\
                 management.tcp.port = {management_port}\n\
                 loopback_users.guest = true\n\
                 collect_statistics_interval = 1000\n"
            ),
        )?;
        write("enabled_plugins", "[rabbitmq_management].\n".into())?;
        write("rabbitmq-env.conf", String::new())?;
        let log = std::fs::File::create(dir.join("log/console.log")).context("console log")?;
        let log2 = log.try_clone().context("console log")?;
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
                .context("starting rabbitmq-server")?,
        );
        node.wait_until_ready().await?;
        Ok(node)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn management_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.management_port)
    }

    async fn wait_until_ready(&mut self) -> Result<()> {
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
                return Ok(());
            }
            if let Some(status) = self
                .server
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!(
                    "rabbitmq-server exited ({status}) before answering:\n{}",
                    self.log_tail()
                );
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                bail!(
                    "rabbitmq-server did not answer on 127.0.0.1:{} within {:?}:\n{}",
                    self.management_port,
                    STARTUP_TIMEOUT,
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn log_tail(&self) -> String {
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

    async fn check(
        response: reqwest::Result<reqwest::Response>,
        what: &str,
    ) -> Result<serde_json::Value> {
        let response = response.with_context(|| what.to_owned())?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{what}: HTTP {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
    }

    /// Declares a durable queue of vhost `/`.
    pub async fn declare_queue(&self, queue: &str) -> Result<()> {
        let url = format!("{}/api/queues/%2F/{queue}", self.management_url());
        let r = self
            .http
            .put(url)
            .basic_auth("guest", Some("guest"))
            .json(&serde_json::json!({"durable": true, "auto_delete": false}))
            .send()
            .await;
        Self::check(r, "declaring the queue").await.map(drop)
    }

    /// Publishes `n` messages to `queue` through the default exchange.
    pub async fn publish(&self, queue: &str, n: u64) -> Result<()> {
        let url = format!(
            "{}/api/exchanges/%2F/amq.default/publish",
            self.management_url()
        );
        for i in 0..n {
            let r = self
                .http
                .post(&url)
                .basic_auth("guest", Some("guest"))
                .json(&serde_json::json!({
                    "properties": {},
                    "routing_key": queue,
                    "payload": format!("task {i}"),
                    "payload_encoding": "string",
                }))
                .send()
                .await;
            Self::check(r, "publishing").await?;
        }
        Ok(())
    }

    /// Consumes (and acknowledges) `n` messages of `queue`, as the workers would.
    pub async fn consume(&self, queue: &str, n: u64) -> Result<()> {
        let url = format!("{}/api/queues/%2F/{queue}/get", self.management_url());
        let r = self
            .http
            .post(url)
            .basic_auth("guest", Some("guest"))
            .json(&serde_json::json!({
                "count": n,
                "ackmode": "ack_requeue_false",
                "encoding": "auto",
            }))
            .send()
            .await;
        Self::check(r, "consuming").await.map(drop)
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

    /// Waits until the management API reports `n` ready messages (statistics lag a little).
    pub async fn wait_for_ready(&self, queue: &str, n: u64, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        let mut last = None;
        while started.elapsed() < timeout {
            last = self.messages_ready(queue).await;
            if last == Some(n) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bail!("messages_ready of {queue} is {last:?}, not {n}, after {timeout:?}")
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
            let _ = Command::new("kill")
                .args(["-KILL", "--", &group])
                .stderr(Stdio::null())
                .status();
            let _ = server.wait();
        }
        if let Some(mut epmd) = self.epmd.take() {
            let _ = epmd.kill();
            let _ = epmd.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_ports() -> Result<[u16; 4]> {
    let listeners = (0..4)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()
        .context("probing free ports")?;
    let mut ports = [0u16; 4];
    for (i, l) in listeners.iter().enumerate() {
        ports[i] = l.local_addr()?.port();
    }
    Ok(ports)
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
