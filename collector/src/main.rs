//! The collector Lambda's entry point: logging, clients, definitions (once), then the runtime.
//! A failed start is reported to the runtime API (`shared::init_error`).

use anyhow::Context;
use collector::{invoke, CollectorConfig, Deps, Invocation};
use lambda_runtime::{service_fn, LambdaEvent};
use shared::logging::{self, LogFormat};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init(LogFormat::detect());
    let deps = match init().await {
        Ok(deps) => deps,
        // Reported to the runtime API: Lambda shows it as the init error.
        Err(error) => return Err(shared::init_error::report(error).await.into()),
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Invocation>| async move {
            invoke(event, deps)
                .await
                .map_err(lambda_runtime::Error::from)
        },
    ))
    .await
}

async fn init() -> anyhow::Result<Deps> {
    let config = CollectorConfig::from_env().context("reading the collector's configuration")?;
    let aws = shared::aws::function_config(&shared::function_config::Env::process())
        .context("reading the collector's AWS configuration")?;
    let deps = Deps::new(
        aws_sdk_cloudwatch::Client::new(&aws),
        aws_sdk_sqs::Client::new(&aws),
        config,
    )
    .context("starting the collector")?;
    tracing::info!(
        clusters = deps.definitions.clusters.len(),
        definition_errors = deps.definitions.errors.len(),
        dir = %deps.config.clusters_dir.display(),
        "cluster definitions loaded"
    );
    Ok(deps)
}
