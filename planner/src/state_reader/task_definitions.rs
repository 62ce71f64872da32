//! The task-definition cache: one task's size (reservation and GPUs) per revision, read once per process.

use std::collections::HashMap;
use std::sync::Mutex;

use shared::aws::state::{task_definition_size, TaskSize};

use super::ReadError;

/// Task sizes by task definition ARN (`family:revision`).
///
/// A revision never changes once registered, so entries never go stale: one cache can serve
/// every read of a process. Thread-safe; the lock is never held across a call.
#[derive(Debug, Default)]
pub struct TaskDefinitionCache {
    sizes: Mutex<HashMap<String, TaskSize>>,
}

impl TaskDefinitionCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The cached size of a revision.
    pub fn get(&self, arn: &str) -> Option<TaskSize> {
        self.lock().get(arn).cloned()
    }

    /// Records the size of a revision.
    pub fn insert(&self, arn: impl Into<String>, size: TaskSize) {
        self.lock().insert(arn.into(), size);
    }

    /// Revisions cached.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, TaskSize>> {
        // A panic while holding the lock cannot leave the map half-updated (one insert).
        self.sizes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The size of a revision, from the cache or one DescribeTaskDefinition call.
    pub(super) async fn size(
        &self,
        ecs: &aws_sdk_ecs::Client,
        cluster: &str,
        arn: &str,
    ) -> Result<TaskSize, ReadError> {
        if let Some(size) = self.get(arn) {
            return Ok(size);
        }
        const OP: &str = "DescribeTaskDefinition";
        // Boxed like the shared reads (`shared::aws::read`): the SDK's futures are deep.
        let out = Box::pin(ecs.describe_task_definition().task_definition(arn).send())
            .await
            .map_err(|e| ReadError::call(cluster, OP, e))?;
        let td = out.task_definition().ok_or_else(|| {
            ReadError::invalid(cluster, OP, format!("no task definition for `{arn}`"))
        })?;
        let size = task_definition_size(td);
        self.insert(arn, size.clone());
        Ok(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::resources::Resources;

    fn size(cpu: u32, memory: u32, gpu: u32) -> TaskSize {
        TaskSize {
            reservation: Resources::new(cpu, memory),
            gpu,
            ..TaskSize::default()
        }
    }

    #[test]
    fn cache_keeps_sizes_per_revision() {
        let cache = TaskDefinitionCache::new();
        assert!(cache.is_empty());
        cache.insert("arn:td/web:3", size(256, 512, 1));
        cache.insert("arn:td/web:4", size(512, 512, 0));
        cache.insert("arn:td/web:3", size(256, 512, 1));
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get("arn:td/web:3"), Some(size(256, 512, 1)));
        assert_eq!(cache.get("arn:td/web:5"), None);
    }
}
