//! A test hook around each cluster's planning: told when it starts and when it ends.
//!
//! Tests use it to see which clusters are planned at the same time by concurrent invocations
//! (one cluster must never be planned twice at once); planning waits for [`started`]'s
//! future, so a test can hold a plan open long enough for another invocation to run.
//! Production leaves [`super::Deps::observer`] `None`.
//!
//! [`started`]: PlanningObserver::started

use std::future::Future;
use std::pin::Pin;

/// Observes planning; see the module docs.
pub trait PlanningObserver: Send + Sync + std::fmt::Debug {
    /// The planning of `cluster` (reading its state, planning, delivering) starts once the
    /// returned future completes.
    fn started<'a>(&'a self, cluster: &'a str) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
    /// The planning of `cluster` ended (delivered or failed).
    fn finished(&self, cluster: &str);
}
