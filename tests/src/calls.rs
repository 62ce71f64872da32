//! Counting the operations SDK clients send, to assert API-call budgets.

use std::sync::{Arc, Mutex, MutexGuard};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// One operation sent by an instrumented client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The service as the SDK names it, e.g. `ECS`, `AutoScaling`.
    pub service: String,
    /// The operation, e.g. `DescribeServices`.
    pub operation: String,
}

/// A shared, clonable record of the operations sent by the clients it instruments.
///
/// Each operation is recorded once, however many attempts (retries) it takes.
#[derive(Debug, Clone, Default)]
pub struct CallLog {
    calls: Arc<Mutex<Vec<Call>>>,
}

impl CallLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// The interceptor to register on a client's config builder (`.interceptor(log.interceptor())`).
    pub fn interceptor(&self) -> CallCounter {
        CallCounter { log: self.clone() }
    }

    /// How many times `operation` (e.g. `DescribeServices`) was sent, any service.
    pub fn count(&self, operation: &str) -> usize {
        self.lock()
            .iter()
            .filter(|call| call.operation == operation)
            .count()
    }

    /// How many operations were sent in total.
    pub fn total(&self) -> usize {
        self.lock().len()
    }

    /// The operation names in the order they were sent.
    pub fn ops(&self) -> Vec<String> {
        self.lock()
            .iter()
            .map(|call| call.operation.clone())
            .collect()
    }

    /// Every call (service and operation) in the order sent.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().clone()
    }

    /// Forgets everything recorded so far.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn record(&self, call: Call) {
        self.lock().push(call);
    }

    /// Poison-tolerant: a test that panicked while recording must not break the others.
    fn lock(&self) -> MutexGuard<'_, Vec<Call>> {
        self.calls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// SDK interceptor that appends each operation to a [`CallLog`].
#[derive(Debug, Clone)]
pub struct CallCounter {
    log: CallLog,
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "testbed::CallCounter"
    }

    // Not `read_before_execution`: for client-level interceptors it runs before the operation's
    // metadata is in the config bag. Serialization happens once per operation, before retries.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let call = match cfg.load::<Metadata>() {
            Some(metadata) => Call {
                service: metadata.service().to_owned(),
                operation: metadata.name().to_owned(),
            },
            None => Call {
                service: "unknown".to_owned(),
                operation: "unknown".to_owned(),
            },
        };
        self.log.record(call);
        Ok(())
    }
}
