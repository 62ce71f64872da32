//! Failed AWS calls, classified as retryable or not.
//!
//! The SDK's standard retry mode (3 attempts, exponential backoff) already retried throttling,
//! 5xx and transient transport errors before an error reaches us. What is still retryable
//! afterwards is worth another delivery of the plan (SQS redelivers it after the visibility
//! timeout, the guards make the replay safe); everything else (validation, access, unknown
//! resources) would fail the same way again and is reported in the outcome instead.

use std::fmt;

use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::error::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Whether a failed call is worth another delivery of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Throttling, 5xx, timeouts, connection failures: may succeed later.
    Retryable,
    /// Validation, permissions, unknown resources: will fail the same way again.
    NonRetryable,
}

/// A failed AWS call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CallError {
    /// The operation, e.g. `UpdateService`.
    pub operation: &'static str,
    /// Retryable or not.
    pub retry: Retry,
    /// The service's error code (`ThrottlingException`, `ValidationError`, ...), when it answered.
    pub code: Option<String>,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{}: {code}: {}", self.operation, self.message),
            None => write!(f, "{}: {}", self.operation, self.message),
        }
    }
}

impl CallError {
    /// Whether another delivery of the plan may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retry == Retry::Retryable
    }

    /// An error of ours about an answer we cannot use (not the service's fault, not transient).
    pub fn invalid_answer(operation: &'static str, message: impl Into<String>) -> Self {
        CallError {
            operation,
            retry: Retry::NonRetryable,
            code: None,
            message: message.into(),
        }
    }
}

/// Error codes that mean "try again later", across ECS (JSON) and Auto Scaling (query).
/// Most come with HTTP 400, so the status alone does not tell.
const RETRYABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "SlowDown",
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
    "TransactionInProgressException",
    "ServerException",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    // Auto Scaling: "You already have a pending update to an Auto Scaling resource".
    "ResourceContention",
    // Auto Scaling: a scaling activity is in progress; it ends on its own.
    "ScalingActivityInProgress",
];

/// Classifies an SDK error of any service (all SDKs share `SdkError` and `HttpResponse`).
pub fn classify<E>(operation: &'static str, err: &SdkError<E, HttpResponse>) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let retry = match err {
        // Never sent: a bug or a configuration problem, the same next time.
        SdkError::ConstructionFailure(_) => Retry::NonRetryable,
        // Timeouts and transport failures after the SDK's own retries.
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => Retry::Retryable,
        // An answer we could not read: most likely cut off in transit.
        SdkError::ResponseError(_) => Retry::Retryable,
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = err.code().unwrap_or_default();
            if status >= 500 || status == 429 || RETRYABLE_CODES.contains(&code) {
                Retry::Retryable
            } else {
                Retry::NonRetryable
            }
        }
        // `SdkError` is non-exhaustive; an unknown kind is treated as transient.
        _ => Retry::Retryable,
    };
    // Short, single-line messages: they go into reports and logs (the SDK's own Display
    // can embed the whole raw response).
    let status = err.raw_response().map(|r| r.status().as_u16());
    let message = match (err, err.message(), status) {
        (_, Some(message), _) => message.to_owned(),
        (SdkError::ServiceError(_), None, Some(status)) => format!("HTTP {status}"),
        (SdkError::ResponseError(_), _, Some(status)) => {
            format!("unreadable answer (HTTP {status})")
        }
        (SdkError::TimeoutError(_), _, _) => "timed out".to_owned(),
        _ => {
            let full = DisplayErrorContext(err).to_string();
            match full.char_indices().nth(300) {
                Some((cut, _)) => format!("{}…", &full[..cut]),
                None => full,
            }
        }
    };
    CallError {
        operation,
        retry,
        code: err.code().map(str::to_owned),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::config::http::HttpResponse;
    use aws_sdk_ecs::error::ErrorMetadata;
    use aws_sdk_ecs::operation::update_service::UpdateServiceError;
    use aws_smithy_types::body::SdkBody;

    fn service_error(status: u16, code: &str) -> SdkError<UpdateServiceError, HttpResponse> {
        let meta = ErrorMetadata::builder().code(code).message("boom").build();
        let response =
            HttpResponse::new(status.try_into().expect("valid status"), SdkBody::from(""));
        SdkError::service_error(UpdateServiceError::generic(meta), response)
    }

    #[test]
    fn throttling_and_5xx_are_retryable() {
        for (status, code) in [
            (400, "ThrottlingException"),
            (400, "Throttling"),
            (500, "ServerException"),
            (503, "Whatever"),
            (429, "TooManyRequests"),
            (400, "ResourceContention"),
        ] {
            let e = classify("UpdateService", &service_error(status, code));
            assert!(e.is_retryable(), "{status} {code}");
        }
    }

    #[test]
    fn validation_and_missing_resources_are_not() {
        for code in [
            "ValidationError",
            "InvalidParameterException",
            "ServiceNotFoundException",
            "AccessDeniedException",
        ] {
            let e = classify("UpdateService", &service_error(400, code));
            assert!(!e.is_retryable(), "{code}");
            assert_eq!(e.code.as_deref(), Some(code));
            assert_eq!(e.to_string(), format!("UpdateService: {code}: boom"));
        }
    }

    #[test]
    fn timeouts_are_retryable_construction_failures_are_not() {
        let timeout: SdkError<UpdateServiceError, HttpResponse> =
            SdkError::timeout_error("operation timed out");
        assert!(classify("UpdateService", &timeout).is_retryable());
        let construction: SdkError<UpdateServiceError, HttpResponse> =
            SdkError::construction_failure("missing field");
        assert!(!classify("UpdateService", &construction).is_retryable());
    }
}
