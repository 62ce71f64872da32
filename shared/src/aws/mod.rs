//! AWS clients, built once from the standard configuration chain; the shared reads of a
//! cluster ([`read`]) and their conversion into the cluster model ([`state`]).
//!
//! `AWS_ENDPOINT_URL` is how the tests, the demo and the CLI point every client at the local
//! emulator (the CLI's `aws-config` reads the per-service overrides too). The SDK's standard
//! retry mode covers throttling and 5xx.

use aws_config::{BehaviorVersion, SdkConfig};

pub mod function_env;
pub mod read;
pub mod state;
pub mod tls;

pub use function_env::function_config;

/// The configuration from `aws-config`'s default chain (region, credentials and endpoints from
/// the environment, profile files, SSO, ...): the CLI's. The functions read what Lambda gives
/// them ([`function_config`]).
pub async fn load_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(tls::https_client())
        .load()
        .await
}

/// Every client the pipeline uses.
#[derive(Clone, Debug)]
pub struct AwsClients {
    /// ECS.
    pub ecs: aws_sdk_ecs::Client,
    /// EC2 Auto Scaling.
    pub autoscaling: aws_sdk_autoscaling::Client,
    /// EC2 (DescribeInstances only: launch times of instances that never register).
    pub ec2: aws_sdk_ec2::Client,
    /// CloudWatch (SDK pinned at 1.99.0, see the workspace manifest).
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// EventBridge.
    pub eventbridge: aws_sdk_eventbridge::Client,
}

impl AwsClients {
    /// Clients sharing one configuration.
    pub fn new(config: &SdkConfig) -> Self {
        AwsClients {
            ecs: aws_sdk_ecs::Client::new(config),
            autoscaling: aws_sdk_autoscaling::Client::new(config),
            ec2: aws_sdk_ec2::Client::new(config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            eventbridge: aws_sdk_eventbridge::Client::new(config),
        }
    }

    /// Clients from `aws-config`'s default chain ([`load_config`]).
    pub async fn from_env() -> Self {
        Self::new(&load_config().await)
    }
}
