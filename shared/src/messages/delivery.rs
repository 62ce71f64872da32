//! The deduplication ids of the two FIFO queues: what makes two messages "the same delivery".
//!
//! SQS FIFO drops a message whose `MessageDeduplicationId` it has seen in the last 5 minutes,
//! even when the first one was already received and deleted. So a deduplication id must name
//! the delivery, never the content: a redelivered message keeps its id (a replay is harmless),
//! and a new collection cycle gets a new one even when it says or decides the same thing.
//!
//! - metrics queue: [`report_deduplication_id`] of (cycle id, cluster); the message group is
//!   the cluster, so one cluster's reports are planned one at a time, in order;
//! - plans queue: [`delivery_id`] of (cluster, the cycle ids of the reports the plan answers);
//!   the message group is the cluster.
//!
//! Both are hex SHA-256 (64 characters, within SQS's 128).

use sha2::{Digest, Sha256};

/// The metrics queue's `MessageDeduplicationId` of the report of `cluster` in cycle `cycle_id`:
/// a collector run retried for the same scheduled event (same cycle id) is dropped.
pub fn report_deduplication_id(cycle_id: &str, cluster: &str) -> String {
    hash(["report", cluster, cycle_id])
}

/// A plan's `delivery_id`, the plans queue's `MessageDeduplicationId`: `cluster` and the cycle
/// ids of the reports the plan answers, in any order and with repeats (they are sorted and
/// deduplicated first).
pub fn delivery_id<S: AsRef<str>>(cluster: &str, cycle_ids: &[S]) -> String {
    let mut ids: Vec<&str> = cycle_ids.iter().map(AsRef::as_ref).collect();
    ids.sort_unstable();
    ids.dedup();
    hash(
        std::iter::once("plan")
            .chain(std::iter::once(cluster))
            .chain(ids),
    )
}

/// An execution report's `dedup_key`: the plan and the delivery it answers. Every publication
/// of a report about the same delivery of the same plan carries the same key — a PutEvents
/// whose answer was lost and is sent again, a plan redelivered after its report was published —
/// so a subscriber keeps the first report of a key and drops the rest.
pub fn report_dedup_key(plan_id: &str, delivery_id: &str) -> String {
    hash(["outcome", plan_id, delivery_id])
}

/// Each part followed by a NUL, which no part contains in practice; the part count goes first
/// so that no two lists hash alike by shifting a separator.
fn hash<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let parts: Vec<&str> = parts.into_iter().collect();
    let mut hasher = Sha256::new();
    hasher.update(parts.len().to_le_bytes());
    for part in parts {
        hasher.update(part.len().to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redelivery_keeps_its_id_and_a_new_cycle_gets_a_new_one() {
        let first = delivery_id("prod", &["c-1"]);
        assert_eq!(first, delivery_id("prod", &["c-1"]), "replay");
        assert_ne!(
            first,
            delivery_id("prod", &["c-2"]),
            "next cycle, same decision"
        );
        assert_ne!(first, delivery_id("staging", &["c-1"]), "another cluster");
        assert_eq!(
            delivery_id("prod", &["c-2", "c-1", "c-2"]),
            delivery_id("prod", &["c-1", "c-2"]),
            "order and repeats do not matter"
        );
        assert_ne!(
            delivery_id("prod", &["c-1", "c-2"]),
            delivery_id("prod", &["c-1"]),
            "a batch with one more report is another delivery"
        );
        assert_ne!(delivery_id("a", &["b"]), delivery_id("ab", &[] as &[&str]));
        assert_eq!(first.len(), 64);
        assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn report_ids_name_the_cycle_and_the_cluster() {
        let id = report_deduplication_id("c-1", "prod");
        assert_eq!(id, report_deduplication_id("c-1", "prod"));
        assert_ne!(id, report_deduplication_id("c-2", "prod"));
        assert_ne!(id, report_deduplication_id("c-1", "staging"));
        assert_ne!(
            report_deduplication_id("c-1", "prod"),
            delivery_id("prod", &["c-1"]),
            "the two queues' ids never meet, but keep them apart anyway"
        );
        assert_eq!(id.len(), 64);
    }
}
