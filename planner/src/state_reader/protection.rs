//! ECS task scale-in protection of the tasks consolidation may move: GetTaskProtection, 10 tasks
//! per call (the API's maximum), for the tasks of the busy instances the core may drain
//! ([`crate::protection_listing`]) and no other.

use std::collections::HashMap;

use shared::state::ContainerInstance;

use super::ReadError;

/// GetTaskProtection takes at most this many tasks.
pub const TASKS_PER_CALL: usize = 10;

/// Sets `protected_until_epoch_secs` on the listed tasks of the container instances `arns` whose
/// protection is enabled. ⌈t/10⌉ calls for their t tasks; none when they have none. A task ECS
/// reports as a failure (stopped since it was listed) is left unprotected: it is gone.
pub(super) async fn read_onto(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
    instances: &mut [ContainerInstance],
) -> Result<usize, ReadError> {
    const OP: &str = "GetTaskProtection";
    let tasks: Vec<String> = instances
        .iter()
        .filter(|ci| arns.contains(&ci.arn))
        .flat_map(|ci| ci.tasks.iter().map(|t| t.arn.clone()))
        .collect();
    let mut until: HashMap<String, u64> = HashMap::new();
    let mut calls = 0;
    for chunk in tasks.chunks(TASKS_PER_CALL) {
        calls += 1;
        let answer = ecs
            .get_task_protection()
            .cluster(cluster)
            .set_tasks(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| ReadError::call(cluster, OP, e))?;
        for p in answer.protected_tasks() {
            let Some(arn) = p.task_arn() else { continue };
            if !p.protection_enabled() {
                continue;
            }
            // ECS always sets an expiry; without one, the protection holds until removed.
            let secs = p
                .expiration_date()
                .map_or(u64::MAX, |d| u64::try_from(d.secs()).unwrap_or(0));
            until.insert(arn.to_owned(), secs);
        }
        for failure in answer.failures() {
            tracing::debug!(
                cluster,
                arn = failure.arn().unwrap_or_default(),
                reason = failure.reason().unwrap_or_default(),
                "task protection not read (the task is gone)"
            );
        }
    }
    for ci in instances.iter_mut() {
        for t in &mut ci.tasks {
            t.protected_until_epoch_secs = until.get(&t.arn).copied();
        }
    }
    Ok(calls)
}
