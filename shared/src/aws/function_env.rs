//! The AWS configuration of a function, from the variables Lambda sets for it: the region
//! (`AWS_REGION`), the execution role's credentials (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) and, for the emulator, `AWS_ENDPOINT_URL`.
//!
//! Not `aws-config`'s default chain: on Lambda it ends at these same variables, and linking it
//! (profile files, SSO, STS web identity, IMDS, the ECS container provider) costs each function
//! about 1.5 MiB. The CLI, which runs on people's machines, keeps the chain (`load_config`).

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_types::retry::RetryConfig;
use aws_types::region::Region;
use aws_types::SdkConfig;

use crate::function_config::{ConfigError, Env};

/// The region's variable (Lambda sets it; `AWS_DEFAULT_REGION` is read when it is not).
pub const AWS_REGION: &str = "AWS_REGION";
/// Read when `AWS_REGION` is not set, as `aws-config` does.
pub const AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
/// The access key of the execution role's credentials.
pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
/// Its secret.
pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// The session token of temporary credentials (always set on Lambda).
pub const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
/// One endpoint for every service (the emulator); unset on AWS.
pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
/// FIPS endpoints (`true` / `false`), as the SDKs read it.
pub const AWS_USE_FIPS_ENDPOINT: &str = "AWS_USE_FIPS_ENDPOINT";
/// Dual-stack (IPv6) endpoints (`true` / `false`), as the SDKs read it.
pub const AWS_USE_DUALSTACK_ENDPOINT: &str = "AWS_USE_DUALSTACK_ENDPOINT";

/// The configuration every client of a function shares: region, credentials, endpoint and the
/// FIPS and dual-stack switches from `env`, the shared HTTPS client
/// ([`super::tls::https_client`]), standard retries (throttling and 5xx). A missing region or
/// credential, or a switch that is not a boolean, is an error naming the variable.
pub fn function_config(env: &Env<'_>) -> Result<SdkConfig, ConfigError> {
    let region = env
        .get(AWS_REGION)
        .or_else(|| env.get(AWS_DEFAULT_REGION))
        .ok_or(ConfigError::Missing(AWS_REGION))?;
    let credentials = Credentials::new(
        env.required(AWS_ACCESS_KEY_ID)?,
        env.required(AWS_SECRET_ACCESS_KEY)?,
        env.get(AWS_SESSION_TOKEN),
        None,
        "lambda-environment",
    );
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .retry_config(RetryConfig::standard())
        .use_fips(env.flag(AWS_USE_FIPS_ENDPOINT)?)
        .use_dual_stack(env.flag(AWS_USE_DUALSTACK_ENDPOINT)?)
        .http_client(super::tls::https_client());
    if let Some(url) = env.get(AWS_ENDPOINT_URL) {
        config = config.endpoint_url(url);
    }
    Ok(config.build())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_credential_types::provider::ProvideCredentials;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<SdkConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let lookup = move |name: &str| map.get(name).cloned();
        function_config(&Env::new(&lookup))
    }

    const LAMBDA: [(&str, &str); 4] = [
        (AWS_REGION, "eu-west-1"),
        (AWS_ACCESS_KEY_ID, "AKIDEXAMPLE"),
        (AWS_SECRET_ACCESS_KEY, "secret"),
        (AWS_SESSION_TOKEN, "token"),
    ];

    #[tokio::test]
    async fn reads_what_lambda_sets() {
        let config = config(&LAMBDA).expect("complete");
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), None, "AWS's own endpoints");
        let credentials = config
            .credentials_provider()
            .expect("set")
            .provide_credentials()
            .await
            .expect("static");
        assert_eq!(credentials.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(credentials.session_token(), Some("token"));
        assert!(config.retry_config().is_some_and(|r| r.max_attempts() > 1));
        assert!(config.http_client().is_some());
    }

    #[test]
    fn the_emulator_endpoint_and_the_default_region() {
        let mut vars: Vec<(&str, &str)> = LAMBDA[1..].to_vec();
        vars.push((AWS_DEFAULT_REGION, "us-east-1"));
        vars.push((AWS_ENDPOINT_URL, "http://127.0.0.1:5000"));
        let config = config(&vars).expect("complete");
        assert_eq!(config.region().map(|r| r.as_ref()), Some("us-east-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
    }

    #[test]
    fn fips_and_dual_stack_endpoints_as_the_sdks_read_them() {
        let config_with = |extra: &[(&'static str, &'static str)]| {
            let mut vars = LAMBDA.to_vec();
            vars.extend_from_slice(extra);
            config(&vars)
        };
        let plain = config_with(&[]).expect("complete");
        assert_eq!(
            (plain.use_fips(), plain.use_dual_stack()),
            (Some(false), Some(false))
        );
        let both = config_with(&[
            (AWS_USE_FIPS_ENDPOINT, "true"),
            (AWS_USE_DUALSTACK_ENDPOINT, "TRUE"),
        ])
        .expect("complete");
        assert_eq!(
            (both.use_fips(), both.use_dual_stack()),
            (Some(true), Some(true))
        );
        let error = config_with(&[(AWS_USE_FIPS_ENDPOINT, "maybe")]).expect_err("not a boolean");
        assert!(error.to_string().contains(AWS_USE_FIPS_ENDPOINT), "{error}");
    }

    #[test]
    fn a_missing_variable_is_named() {
        for missing in [AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY] {
            let vars: Vec<(&str, &str)> = LAMBDA
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            let error = config(&vars).expect_err("incomplete");
            assert_eq!(error, ConfigError::Missing(missing));
            assert!(error.to_string().contains(missing));
        }
    }
}
