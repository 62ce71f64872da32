//! A function's real binary run as Lambda runs it: a child process with the environment Lambda
//! gives a `provided.al2023` function, pointed at a [`RuntimeApi`] emulator; its output kept,
//! its peak memory read, and the process killed when dropped (also when a test fails).

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::lambda_runtime_api::{Invocation, RuntimeApi};

/// The variables Lambda sets for every function (besides the function's own environment).
/// Credentials and the region are the test bed's; `AWS_ENDPOINT_URL` is left to the caller.
pub fn lambda_environment(function: &str, api: &RuntimeApi) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", api.address()),
        ("AWS_LAMBDA_FUNCTION_NAME", function),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            &format!("/aws/lambda/{function}"),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/30/[$LATEST]emulated"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023"),
        ("_HANDLER", "bootstrap"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
        ("TZ", ":UTC"),
        ("AWS_REGION", crate::REGION),
        ("AWS_DEFAULT_REGION", crate::REGION),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// A function process; killed when dropped.
pub struct FunctionProcess {
    child: Child,
    pid: u32,
    started: Instant,
    output: Arc<Mutex<String>>,
}

impl FunctionProcess {
    /// Starts `program` with exactly `env` (nothing inherited: Lambda's environment is the
    /// function's configuration plus the variables of [`lambda_environment`]).
    pub fn spawn(program: &Path, env: &[(String, String)]) -> std::io::Result<FunctionProcess> {
        let started = Instant::now();
        let mut child = Command::new(program)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().unwrap_or(0);
        let output = Arc::new(Mutex::new(String::new()));
        if let Some(stdout) = child.stdout.take() {
            collect(stdout, Arc::clone(&output));
        }
        if let Some(stderr) = child.stderr.take() {
            collect(stderr, Arc::clone(&output));
        }
        Ok(FunctionProcess {
            child,
            pid,
            started,
            output,
        })
    }

    /// When the process was started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Everything it wrote to standard output and error so far (lines in arrival order).
    pub fn output(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits at most `within` for it to exit.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(within, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// Its peak resident set size so far (`VmHWM` of `/proc/PID/status`), in KiB; `None` once it
    /// has exited or where `/proc` has no such line.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Kills it and waits for it to exit.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// Appends every line of `stream` to `output`.
fn collect(stream: impl AsyncRead + Unpin + Send + 'static, output: Arc<Mutex<String>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut out = output.lock().unwrap_or_else(|e| e.into_inner());
            out.push_str(&line);
            out.push('\n');
        }
    });
}

/// A function's binary started under its own runtime API emulator.
pub struct LambdaFunction {
    /// The emulator the process polls.
    pub api: RuntimeApi,
    /// The process.
    pub process: FunctionProcess,
}

impl LambdaFunction {
    /// Starts `program` as the function `name` with Lambda's environment plus `function_env`
    /// (the function's configuration, `AWS_ENDPOINT_URL`, ...).
    pub async fn start(
        program: &Path,
        name: &str,
        function_env: &[(&str, &str)],
    ) -> std::io::Result<LambdaFunction> {
        let api = RuntimeApi::start(name).await?;
        let mut env = lambda_environment(name, &api);
        env.extend(
            function_env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let process = FunctionProcess::spawn(program, &env)?;
        Ok(LambdaFunction { api, process })
    }

    /// Invokes it with `event`; an invocation the process cannot answer — it exits first, or
    /// the emulator gives up — is an `Err` with the process's output, for the caller's message.
    pub async fn invoke(
        &mut self,
        event: &serde_json::Value,
        timeout: Duration,
    ) -> Result<Invocation, String> {
        let invoking = self.api.invoke(event, timeout);
        let answered = tokio::select! {
            answered = invoking => answered.map_err(|e| e.to_string()),
            status = self.process.child.wait() => {
                Err(format!("the process exited before answering ({status:?})"))
            }
        };
        answered.map_err(|e| format!("{e}\n--- output ---\n{}", self.process.output()))
    }

    /// Invokes it with `event` and returns its JSON response; an error outcome or a response
    /// that is not JSON is an `Err` too (see [`LambdaFunction::invoke`]).
    pub async fn invoke_json(
        &mut self,
        event: &serde_json::Value,
        timeout: Duration,
    ) -> Result<serde_json::Value, String> {
        let invocation = self.invoke(event, timeout).await?;
        invocation
            .json()
            .map_err(|e| format!("{e}\n--- output ---\n{}", self.process.output()))
    }
}

impl LambdaFunction {
    /// Asserts that the process asked for its first event within `start` (its init succeeded),
    /// with its output in the failure message.
    pub async fn assert_ready(&self, start: Duration) {
        if let Err(e) = self.api.ready(start).await {
            panic!("the function did not start: {e}\n{}", self.process.output());
        }
    }

    /// Asserts that the process is still running, has asked for event number `polls` (it
    /// serves the next invocation) and has not panicked.
    pub fn assert_serving(&mut self, polls: u64) {
        assert!(self.process.is_running(), "{}", self.process.output());
        assert_eq!(self.api.polls(), polls, "waiting for the next event");
        let output = self.process.output();
        assert!(!output.contains("panicked"), "{output}");
    }

    /// Asserts that the process reported a failed start naming `naming` to the runtime API
    /// within `start`, then exited unsuccessfully without asking for an event or panicking.
    pub async fn assert_init_error(&mut self, start: Duration, naming: &[&str]) {
        let report = self.api.wait_init_error(start).await;
        let output = self.process.output();
        let report = report.unwrap_or_else(|| panic!("no init error reported\n{output}"));
        assert_eq!(report.header_type.as_deref(), Some("Runtime.InitError"));
        assert!(
            naming.iter().all(|n| report.error_message.contains(n)),
            "{report:?}"
        );
        let status = self.process.wait_exit(Duration::from_secs(10)).await;
        assert!(status.is_some_and(|s| !s.success()), "{status:?}");
        assert_eq!(self.api.polls(), 0, "no event asked for");
        let output = self.process.output();
        assert!(!output.contains("panicked"), "{output}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// An executable script in a temporary directory (removed when the test ends).
    struct Script(std::path::PathBuf);

    impl Script {
        fn new(tag: &str, body: &str) -> Script {
            let dir = std::env::temp_dir().join(format!(
                "ecs-autoscale-lambda-process-{tag}-{}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let path = dir.join("bootstrap");
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("script");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
            Script(path)
        }
    }

    impl Drop for Script {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    #[tokio::test]
    async fn output_exit_status_and_only_the_given_environment_are_seen() {
        let script = Script::new(
            "env",
            "echo \"ONLY=$ONLY HOME=${HOME:-unset}\"\necho problem >&2\nexit 3",
        );
        let mut process =
            FunctionProcess::spawn(&script.0, &[("ONLY".to_owned(), "this".to_owned())])
                .expect("spawn");
        let status = process.wait_exit(Duration::from_secs(10)).await;
        assert_eq!(status.and_then(|s| s.code()), Some(3));
        assert!(!process.is_running());
        // The readers finish once the pipes close.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !process.output().contains("problem") && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let output = process.output();
        assert!(output.contains("ONLY=this HOME=unset"), "{output}");
        assert!(output.contains("problem"), "{output}");
        assert_eq!(process.peak_rss_kib(), None, "it has exited");
    }

    #[tokio::test]
    async fn dropping_it_kills_the_process() {
        let script = Script::new("kill", "exec sleep 30");
        let mut process = FunctionProcess::spawn(&script.0, &[]).expect("spawn");
        let pid = process.pid;
        assert!(process.is_running());
        assert!(process.peak_rss_kib().is_some_and(|kib| kib > 0));
        drop(process);
        // Killed: gone, or a zombie until tokio reaps it.
        let state = || {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("State:").map(|v| v.trim().to_owned()))
                })
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while state().is_some_and(|s| !s.starts_with('Z')) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let left = state();
        assert!(
            left.as_deref().is_none_or(|s| s.starts_with('Z')),
            "{left:?}"
        );
    }
}
