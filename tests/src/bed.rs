//! Per-test isolation: a guard that owns the shared moto server for one test.

use anyhow::{Context, Result};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecs::config::Credentials;
use tokio::sync::{Mutex, MutexGuard};

use crate::calls::CallLog;
use crate::moto::Moto;
use crate::scheduler::{self, ConvergeReport};

/// Region every test bed uses.
pub const REGION: &str = "us-east-1";

/// Serialises the tests of one binary: they all share one moto server.
/// A tokio mutex is runtime-agnostic and never poisoned, so a failed test frees it normally.
static BED_LOCK: Mutex<()> = Mutex::const_new(());

/// One SDK client per service the project uses, all built from the same [`SdkConfig`].
#[derive(Debug, Clone)]
pub struct Clients {
    /// Amazon ECS.
    pub ecs: aws_sdk_ecs::Client,
    /// EC2 Auto Scaling.
    pub autoscaling: aws_sdk_autoscaling::Client,
    /// EC2.
    pub ec2: aws_sdk_ec2::Client,
    /// CloudWatch (SDK pinned to 1.99.0, awsQuery).
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// EventBridge.
    pub eventbridge: aws_sdk_eventbridge::Client,
}

impl Clients {
    /// Plain clients for `config`.
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            ecs: aws_sdk_ecs::Client::new(config),
            autoscaling: aws_sdk_autoscaling::Client::new(config),
            ec2: aws_sdk_ec2::Client::new(config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            eventbridge: aws_sdk_eventbridge::Client::new(config),
        }
    }

    /// Clients for `config` that record every operation they send into `log`.
    pub fn counted(config: &SdkConfig, log: &CallLog) -> Self {
        Self {
            ecs: aws_sdk_ecs::Client::from_conf(
                aws_sdk_ecs::config::Builder::from(config)
                    .interceptor(log.interceptor())
                    .build(),
            ),
            autoscaling: aws_sdk_autoscaling::Client::from_conf(
                aws_sdk_autoscaling::config::Builder::from(config)
                    .interceptor(log.interceptor())
                    .build(),
            ),
            ec2: aws_sdk_ec2::Client::from_conf(
                aws_sdk_ec2::config::Builder::from(config)
                    .interceptor(log.interceptor())
                    .build(),
            ),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(
                aws_sdk_cloudwatch::config::Builder::from(config)
                    .interceptor(log.interceptor())
                    .build(),
            ),
            sqs: aws_sdk_sqs::Client::from_conf(
                aws_sdk_sqs::config::Builder::from(config)
                    .interceptor(log.interceptor())
                    .build(),
            ),
            eventbridge: aws_sdk_eventbridge::Client::from_conf(
                aws_sdk_eventbridge::config::Builder::from(config)
                    .interceptor(log.interceptor())
                    .build(),
            ),
        }
    }
}

/// Exclusive use of the shared moto server for one test, reset to an empty account.
///
/// Hold it for the whole test (`let bed = TestBed::start().await;`); dropping it lets the next
/// test in. Build everything from it inside the test: SDK clients must not outlive the test's
/// tokio runtime.
pub struct TestBed {
    moto: &'static Moto,
    config: SdkConfig,
    clients: Clients,
    _guard: MutexGuard<'static, ()>,
}

impl TestBed {
    /// Waits for the server, starts it if needed, resets it and keeps ECS tasks RUNNING.
    /// Panics (with the reason) if that fails.
    pub async fn start() -> TestBed {
        match TestBed::try_start().await {
            Ok(bed) => bed,
            Err(err) => panic!("testbed: {err:#}"),
        }
    }

    /// [`TestBed::start`] returning errors instead of panicking (a missing `moto_server`
    /// executable still panics, with instructions).
    pub async fn try_start() -> Result<TestBed> {
        let guard = BED_LOCK.lock().await;
        let moto = tokio::task::spawn_blocking(Moto::shared)
            .await
            .map_err(|err| match err.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(err) => anyhow::Error::from(err),
            })?;
        moto.reset().await.context("resetting moto")?;
        moto.keep_tasks_running()
            .await
            .context("setting the ecs::task transition to manual")?;
        let config = sdk_config(moto.endpoint()).await;
        let clients = Clients::new(&config);
        Ok(TestBed {
            moto,
            config,
            clients,
            _guard: guard,
        })
    }

    /// Resets the server again in the middle of a test (every resource is forgotten).
    pub async fn reset(&self) -> Result<()> {
        self.moto.reset().await?;
        self.moto.keep_tasks_running().await
    }

    /// The shared server.
    pub fn moto(&self) -> &'static Moto {
        self.moto
    }

    /// The endpoint URL of the server, e.g. `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> &str {
        self.moto.endpoint()
    }

    /// SDK configuration for the server: region `us-east-1`, static test credentials.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    /// The plain (uncounted) clients the harness itself uses.
    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// New clients that record the operations they send into `log`; give these to the code
    /// under test so that the harness's own calls are not counted.
    pub fn counted_clients(&self, log: &CallLog) -> Clients {
        Clients::counted(&self.config, log)
    }

    /// ECS client.
    pub fn ecs(&self) -> &aws_sdk_ecs::Client {
        &self.clients.ecs
    }

    /// Auto Scaling client.
    pub fn autoscaling(&self) -> &aws_sdk_autoscaling::Client {
        &self.clients.autoscaling
    }

    /// CloudWatch client.
    pub fn cloudwatch(&self) -> &aws_sdk_cloudwatch::Client {
        &self.clients.cloudwatch
    }

    /// SQS client.
    pub fn sqs(&self) -> &aws_sdk_sqs::Client {
        &self.clients.sqs
    }

    /// EventBridge client.
    pub fn eventbridge(&self) -> &aws_sdk_eventbridge::Client {
        &self.clients.eventbridge
    }

    /// Plays the ECS service scheduler once for `cluster`, ENI limits included; see
    /// [`scheduler::converge_with_enis`].
    pub async fn converge(&self, cluster: &str) -> Result<ConvergeReport> {
        scheduler::converge_with_enis(self.ecs(), Some(&self.clients.ec2), cluster).await
    }
}

/// SDK configuration pointing every service at `endpoint`, region `us-east-1`, test credentials.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(shared::aws::tls::https_client())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(
            "testing", "testing", None, None, "testbed",
        ))
        .endpoint_url(endpoint)
        .load()
        .await
}
