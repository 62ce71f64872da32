//! ECS task scale-in protection of the tasks consolidation may move: GetTaskProtection, 10 tasks
//! per call (the API's maximum), for the tasks of the busy instances the core may drain
//! ([`crate::protection_listing`]) and no other.
//!
//! A failed read does not fail the plan (scale-ups and empty instances do not depend on it): its
//! reason is returned for [`ClusterState::task_protection_unread`], and the core then drains no
//! busy instance.

use aws_sdk_ecs::error::{DisplayErrorContext, ProvideErrorMetadata};
#[cfg(doc)]
use shared::state::ClusterState;
use shared::state::ContainerInstance;

/// The longest error text kept for the record.
const MAX_REASON_CHARS: usize = 200;

/// GetTaskProtection takes at most this many tasks.
pub const TASKS_PER_CALL: usize = shared::aws::read::PROTECTION_TASKS_PER_CALL;

/// Sets `protected_until_epoch_secs` on the listed tasks of the container instances `arns` whose
/// protection is enabled. ⌈t/10⌉ calls for their t tasks; none when they have none. A task ECS
/// reports as a failure (stopped since it was listed) is left unprotected: it is gone. When a
/// call fails (after the SDK's retries), no task is marked and the error is returned, as text
/// for the record.
pub(super) async fn read_onto(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
    instances: &mut [ContainerInstance],
) -> Result<usize, String> {
    const OP: &str = "GetTaskProtection";
    let tasks: Vec<String> = instances
        .iter()
        .filter(|ci| arns.contains(&ci.arn))
        .flat_map(|ci| ci.tasks.iter().map(|t| t.arn.clone()))
        .collect();
    let until = shared::aws::read::task_protection(ecs, cluster, &tasks)
        .await
        .map_err(|e| {
            let why = match (e.code(), e.message()) {
                (Some(code), Some(message)) => format!("{OP}: {code}: {message}"),
                (Some(code), None) => format!("{OP}: {code}"),
                _ => format!("{OP}: {}", DisplayErrorContext(&e)),
            };
            shorten(&why)
        })?;
    for ci in instances.iter_mut() {
        for t in &mut ci.tasks {
            t.protected_until_epoch_secs = until.get(&t.arn).copied();
        }
    }
    Ok(tasks.len().div_ceil(TASKS_PER_CALL))
}

/// `text` cut to [`MAX_REASON_CHARS`] characters (an SDK error may carry a whole HTML page).
fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_REASON_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reasons_are_cut_on_a_character_boundary() {
        assert_eq!(shorten("short"), "short");
        let long = "é".repeat(MAX_REASON_CHARS + 5);
        let cut = shorten(&long);
        assert_eq!(cut.chars().count(), MAX_REASON_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
