//! AWS clients for the command: from the standard environment (`AWS_ENDPOINT_URL`, `AWS_REGION`,
//! credentials), checked for reachability first, with timeouts so nothing hangs, and — for
//! `plan` — a guard that refuses every operation that is not a read.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use shared::aws::AwsClients;
use shared::redact::{redact_text, redact_url};

use crate::CliError;

/// The `tracing` target of the one debug line per AWS operation the command sends
/// (`RUST_LOG=aws_calls=debug` lists them).
pub const CALLS_TARGET: &str = "aws_calls";

/// The endpoint every client uses when `AWS_ENDPOINT_URL` is set (the emulator), else `None`.
pub fn endpoint_override() -> Option<String> {
    std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Whether clients may change anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Every operation.
    ReadWrite,
    /// Only `Describe*`, `List*` and `Get*` operations; anything else fails before it is sent.
    ReadOnly,
}

/// Clients from the environment, after checking that the endpoint answers.
pub async fn clients(access: Access) -> anyhow::Result<AwsClients> {
    if let Some(endpoint) = endpoint_override() {
        check_reachable(&endpoint).await?;
    }
    let config = shared::aws::load_config()
        .await
        .to_builder()
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(25))
                .operation_timeout(Duration::from_secs(60))
                .build(),
        )
        .build();
    if config.region().is_none() {
        return Err(CliError::failure("no AWS region is configured")
            .hint("set AWS_REGION (for example `export AWS_REGION=us-east-1`)")
            .into());
    }
    Ok(clients_for(&config, access))
}

/// Clients for `config`: every operation logged (debug, [`CALLS_TARGET`]), and with
/// [`Access::ReadOnly`] every operation that is not a read refused before it is sent.
pub fn clients_for(config: &aws_config::SdkConfig, access: Access) -> AwsClients {
    match access {
        Access::ReadWrite => with_interceptor(config, CallLogger),
        Access::ReadOnly => with_interceptor(config, ReadOnlyGuard),
    }
}

fn with_interceptor<I: Intercept + Clone + 'static>(
    config: &aws_config::SdkConfig,
    interceptor: I,
) -> AwsClients {
    AwsClients {
        ecs: aws_sdk_ecs::Client::from_conf(
            aws_sdk_ecs::config::Builder::from(config)
                .interceptor(interceptor.clone())
                .build(),
        ),
        autoscaling: aws_sdk_autoscaling::Client::from_conf(
            aws_sdk_autoscaling::config::Builder::from(config)
                .interceptor(interceptor.clone())
                .build(),
        ),
        ec2: aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::from(config)
                .interceptor(interceptor.clone())
                .build(),
        ),
        cloudwatch: aws_sdk_cloudwatch::Client::from_conf(
            aws_sdk_cloudwatch::config::Builder::from(config)
                .interceptor(interceptor.clone())
                .build(),
        ),
        sqs: aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(config)
                .interceptor(interceptor.clone())
                .build(),
        ),
        eventbridge: aws_sdk_eventbridge::Client::from_conf(
            aws_sdk_eventbridge::config::Builder::from(config)
                .interceptor(interceptor)
                .build(),
        ),
    }
}

/// Fails clearly (exit code 3, with hints) when nothing listens at `endpoint`.
pub async fn check_reachable(endpoint: &str) -> anyhow::Result<()> {
    let Some((host, port)) = host_port(endpoint) else {
        return Err(CliError::failure(format!(
            "AWS_ENDPOINT_URL `{}` is not a URL",
            redact_url(endpoint)
        ))
        .hint("use a URL such as `http://127.0.0.1:5000`, or unset AWS_ENDPOINT_URL")
        .into());
    };
    let connect = tokio::net::TcpStream::connect((host.as_str(), port));
    let outcome = tokio::time::timeout(Duration::from_secs(3), connect).await;
    let problem = match outcome {
        Ok(Ok(_)) => return Ok(()),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "no answer within 3 s".to_owned(),
    };
    Err(unreachable(endpoint, &problem).into())
}

/// The error for an endpoint that does not answer.
pub fn unreachable(endpoint: &str, problem: &str) -> CliError {
    CliError::failure(format!(
        "cannot reach AWS at {} ({})",
        redact_url(endpoint),
        redact_text(problem)
    ))
        .hint("AWS_ENDPOINT_URL points every call at a local emulator; is it running? (`make demo` starts one)")
        .hint("to use your AWS account instead, unset AWS_ENDPOINT_URL")
}

/// `http://host:port/...` → (host, port); the port defaults by scheme.
fn host_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    if authority.is_empty() {
        return None;
    }
    let default = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => default,
        };
        return Some((host.to_owned(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host.to_owned(), port.parse().ok()?)),
        None => Some((authority.to_owned(), default)),
    }
}

/// An SDK error as one sentence; a connection failure names the endpoint (exit code 3).
pub fn call_failed<E, R>(
    what: &str,
    err: aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> anyhow::Error
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    let detail = aws_sdk_ecs::error::DisplayErrorContext(&err).to_string();
    match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            let endpoint = endpoint_override().unwrap_or_else(|| "the AWS endpoint".to_owned());
            unreachable(&endpoint, &format!("{what}: {detail}")).into()
        }
        _ => CliError::failure(format!("{what} failed: {}", redact_text(&detail))).into(),
    }
}

fn operation(cfg: &ConfigBag) -> (String, String) {
    match cfg.load::<Metadata>() {
        Some(m) => (m.service().to_owned(), m.name().to_owned()),
        None => ("unknown".to_owned(), "unknown".to_owned()),
    }
}

/// Whether an operation only reads.
pub fn is_read(operation: &str) -> bool {
    ["Describe", "List", "Get"]
        .iter()
        .any(|prefix| operation.starts_with(prefix))
}

/// Logs each operation (debug, target [`CALLS_TARGET`]).
#[derive(Debug, Clone)]
pub struct CallLogger;

impl Intercept for CallLogger {
    fn name(&self) -> &'static str {
        "ecs-autoscale::CallLogger"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, op) = operation(cfg);
        tracing::debug!(target: CALLS_TARGET, "call {service}.{op}");
        Ok(())
    }
}

/// Refuses every operation that is not a read ([`is_read`]) before it is serialised, so it is
/// never sent; logs the others like [`CallLogger`].
#[derive(Debug, Clone)]
pub struct ReadOnlyGuard;

impl Intercept for ReadOnlyGuard {
    fn name(&self) -> &'static str {
        "ecs-autoscale::ReadOnlyGuard"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, op) = operation(cfg);
        if !is_read(&op) {
            tracing::error!(target: CALLS_TARGET, "refused {service}.{op}: read-only clients");
            return Err(format!("{service}.{op} refused: these clients are read-only").into());
        }
        tracing::debug!(target: CALLS_TARGET, "call {service}.{op}");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_give_host_and_port() {
        assert_eq!(
            host_port("http://127.0.0.1:5000"),
            Some(("127.0.0.1".into(), 5000))
        );
        assert_eq!(
            host_port("https://sqs.us-east-1.amazonaws.com/"),
            Some(("sqs.us-east-1.amazonaws.com".into(), 443))
        );
        assert_eq!(host_port("http://[::1]:9/x"), Some(("::1".into(), 9)));
        assert_eq!(host_port("localhost:5000"), None);
    }

    #[test]
    fn only_reads_are_reads() {
        for op in [
            "DescribeServices",
            "ListTasks",
            "GetMetricData",
            "DescribeAutoScalingGroups",
        ] {
            assert!(is_read(op), "{op}");
        }
        for op in [
            "UpdateService",
            "SetDesiredCapacity",
            "PutEvents",
            "SendMessage",
            "ReceiveMessage",
            "TerminateInstanceInAutoScalingGroup",
        ] {
            assert!(!is_read(op), "{op}");
        }
    }
}
