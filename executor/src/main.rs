//! The executor Lambda's entry point: logging, configuration (`executor::config`), clients and
//! deps built once, then the runtime. A configuration that is not allowed is reported to the
//! runtime API as the init error (`shared::init_error`).

use std::sync::Arc;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_lambda_events::event::sqs::SqsEvent;
use executor::{handle, Config, Deps};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use shared::aws::AwsClients;
use shared::function_config::Env;
use shared::logging::{self, LogFormat};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init(LogFormat::detect());
    let config = match Config::read(&Env::process()) {
        Ok(config) => config,
        // Reported to the runtime API: Lambda shows it as the init error.
        Err(error) => {
            let error = anyhow::Error::new(error).context("reading the executor's configuration");
            return Err(shared::init_error::report(error).await.into());
        }
    };
    let aws = match shared::aws::function_config(&Env::process()) {
        Ok(aws) => aws,
        Err(error) => {
            let error =
                anyhow::Error::new(error).context("reading the executor's AWS configuration");
            return Err(shared::init_error::report(error).await.into());
        }
    };
    // A hung call must end as a (retryable) timeout well before the Lambda's own timeout.
    let aws = aws
        .to_builder()
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(20))
                .build(),
        )
        .build();
    let deps = Arc::new(Deps::load(
        AwsClients::new(&aws),
        config,
        &shared::process_env,
    ));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let deps = Arc::clone(&deps);
        async move { Ok::<_, Error>(handle(event.payload, &deps).await) }
    }))
    .await
}
