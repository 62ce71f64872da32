//! A function's failed start reported to the Lambda Runtime API (`POST
//! /2018-06-01/runtime/init/error`), so that Lambda records the reason — a missing environment
//! variable, a value that is not allowed — as the function's init error instead of an exit code.
//!
//! `lambda_runtime` reports only the errors of its own start; the functions' `main` calls
//! [`report`] with theirs before exiting.

use lambda_runtime_api_client::body::Body;

/// The variable Lambda sets to the runtime API's `host:port`.
pub const RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";
/// The `errorType` (and `Lambda-Runtime-Function-Error-Type` header) of the report.
pub const ERROR_TYPE: &str = "Runtime.InitError";

/// Logs `error` (with its causes) and, when running under Lambda (`AWS_LAMBDA_RUNTIME_API`
/// set), reports it to the runtime API; returns it for `main` to exit with. A report that
/// cannot be sent is logged: Lambda then still sees the process exit.
pub async fn report<E: std::fmt::Display>(error: E) -> E {
    let message = format!("{error:#}");
    tracing::error!(error = %message, "the function could not start");
    if let Some(api) = std::env::var(RUNTIME_API)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
    {
        if let Err(problem) = post(&api, &message).await {
            tracing::error!(
                "could not report the init error to the runtime API at {api}: {problem}"
            );
        }
    }
    error
}

/// The report's JSON body, as the runtime API documents it.
pub fn body(message: &str) -> String {
    serde_json::json!({"errorType": ERROR_TYPE, "errorMessage": message, "stackTrace": []})
        .to_string()
}

async fn post(api: &str, message: &str) -> Result<(), String> {
    // The client panics on an address it cannot parse: check the `host:port` form first.
    let valid = api
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
        && !api.contains(['/', ' ']);
    if !valid {
        return Err(format!("{RUNTIME_API} is not host:port"));
    }
    let request = lambda_runtime_api_client::build_request()
        .method("POST")
        .uri(format!("http://{api}/2018-06-01/runtime/init/error"))
        .header("Lambda-Runtime-Function-Error-Type", ERROR_TYPE)
        .header("Content-Type", "application/json")
        .body(Body::from(body(message)))
        .map_err(|e| e.to_string())?;
    let client = lambda_runtime_api_client::PooledClient::builder().build();
    let answer = client.call(request).await.map_err(|e| e.to_string())?;
    if answer.status().is_success() {
        Ok(())
    } else {
        Err(format!("the runtime API answered {}", answer.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_the_documented_error_object() {
        let v: serde_json::Value =
            serde_json::from_str(&body("PLANS_QUEUE_URL is not set")).expect("JSON");
        assert_eq!(v["errorType"], ERROR_TYPE);
        assert_eq!(v["errorMessage"], "PLANS_QUEUE_URL is not set");
        assert_eq!(v["stackTrace"], serde_json::json!([]));
    }
}
