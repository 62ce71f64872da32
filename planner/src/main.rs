//! The planner Lambda's entry point: wiring only (see `planner::handler`).
//!
//! Environment: `planner::handler::config` (the README's table lists every variable), the
//! `AWS_*` variables Lambda sets (`shared::aws::function_env`), and `LOG_LEVEL` / `RUST_LOG`. A configuration that is not
//! allowed is reported to the runtime API as the init error (`shared::init_error`).

use anyhow::Context;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, LambdaEvent};
use planner::handler::{handle, Config, Deps};
use shared::aws::AwsClients;
use shared::definition::load_dir;
use shared::function_config::Env;
use shared::logging::{self, LogFormat};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    logging::init(LogFormat::detect());
    let read = Config::read(&Env::process())
        .context("reading the planner's configuration")
        .and_then(|config| {
            let aws = shared::aws::function_config(&Env::process())
                .context("reading the planner's AWS configuration")?;
            Ok((config, aws))
        });
    let (config, aws) = match read {
        Ok(read) => read,
        // Reported to the runtime API: Lambda shows it as the init error.
        Err(error) => return Err(shared::init_error::report(error).await),
    };

    let definitions = load_dir(&config.clusters_dir, &shared::process_env);
    for file in &definitions.errors {
        for error in &file.errors {
            tracing::error!("{error}");
        }
    }
    tracing::info!(
        dir = %config.clusters_dir.display(),
        "loaded {} cluster definition(s) ({}); {} file(s) with errors",
        definitions.clusters.len(),
        definitions
            .clusters
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        definitions.errors.len()
    );

    let clients = AwsClients::new(&aws);
    let mut deps = Deps::new(
        clients,
        definitions,
        config.plans_queue_url,
        config.bus_name,
    );
    deps.delivery = config.delivery;
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(handle(event.payload, deps).await)
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
    .context("the Lambda runtime stopped")
}
