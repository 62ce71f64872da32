//! One delivery of metrics reports for a cluster, planned (pure): the current reports merged,
//! the plan made, and the plan's delivery identity and life set.
//!
//! - reports too old or dated in the future are left out ([`Freshness`]), each named in the
//!   record; when none is left the plan is made from the live state alone, with no metric
//!   value and no `default:` standing in, so no rule recommends anything (missing data never
//!   scales in);
//! - `metrics_cycle_ids`: every report's cycle id, oldest first; `delivery_id`: their
//!   [`delivery_id`] (the plans queue's deduplication id); `expires_at`: `created_at` + the TTL.

use std::time::Duration;

use shared::definition::ClusterDefinition;
use shared::messages::{delivery_id, MetricsReport, Reason, ScalingPlan};
use shared::state::ClusterState;
use shared::time::Timestamp;

use super::report_age::Freshness;
use super::{headlines, merge_reports, plan};

/// What bounds a delivery's plan in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryRules {
    /// Which reports are current.
    pub freshness: Freshness,
    /// How long a plan may be applied after it was made (`PLAN_TTL_SECS`).
    pub plan_ttl: Duration,
}

/// The planner's defaults: reports up to 3 collection periods of 60 s old, plans for 2 minutes.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(180);
/// See [`DEFAULT_MAX_AGE`].
pub const DEFAULT_PLAN_TTL: Duration = Duration::from_secs(120);

impl Default for DeliveryRules {
    fn default() -> Self {
        DeliveryRules {
            freshness: Freshness::new(DEFAULT_MAX_AGE),
            plan_ttl: DEFAULT_PLAN_TTL,
        }
    }
}

/// Plans `definition` for the delivery `reports` (the cluster's reports of one batch).
pub fn plan_delivery(
    definition: &ClusterDefinition,
    reports: &[MetricsReport],
    state: &ClusterState,
    now: Timestamp,
    rules: &DeliveryRules,
) -> ScalingPlan {
    let (current, mut notes) = rules.freshness.sort(reports, now);
    let current: Vec<MetricsReport> = current.into_iter().cloned().collect();
    let (metrics, _) = merge_reports(&current);
    let mut plan = if current.is_empty() && !reports.is_empty() {
        notes.push(Reason::NoCurrentReport {
            ignored: u32::try_from(reports.len()).unwrap_or(u32::MAX),
        });
        plan(&without_defaults(definition), &metrics, state, now)
    } else {
        plan(definition, &metrics, state, now)
    };

    let mut ordered: Vec<&MetricsReport> = reports.iter().collect();
    ordered.sort_by_key(|r| r.collected_at);
    let mut cycle_ids: Vec<String> = Vec::new();
    for r in ordered {
        if !cycle_ids.contains(&r.cycle_id) {
            cycle_ids.push(r.cycle_id.clone());
        }
    }
    plan.delivery_id = delivery_id(&definition.name, &cycle_ids);
    plan.metrics_cycle_ids = cycle_ids;
    plan.expires_at = expires(plan.created_at, rules.plan_ttl);
    if !notes.is_empty() {
        let detail = &mut plan.decisions.detail;
        notes.append(&mut detail.cluster);
        detail.cluster = notes;
        plan.decisions.headlines = headlines(detail);
    }
    plan
}

/// `created_at` + `ttl`, at the latest the last representable instant.
pub fn expires(created_at: Timestamp, ttl: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(ttl)
        .ok()
        .and_then(|ttl| created_at.checked_add(ttl).ok())
        .unwrap_or(Timestamp::MAX)
}

/// The definition with every statistic's `default:` removed: without a current report there
/// is nothing for a default to stand in for.
fn without_defaults(definition: &ClusterDefinition) -> ClusterDefinition {
    let mut stripped = definition.clone();
    for service in &mut stripped.services {
        let sources = &mut service.metric_sources;
        let stats = sources
            .third_party
            .iter_mut()
            .flat_map(|s| s.statistics.iter_mut())
            .chain(
                sources
                    .cloudwatch
                    .iter_mut()
                    .flat_map(|s| s.statistics.iter_mut()),
            );
        for stat in stats {
            stat.default = None;
        }
    }
    stripped
}

#[cfg(test)]
mod tests {
    use shared::messages::{MetricsReport, Reason, ServiceChange};
    use shared::resources::Resources;
    use shared::state::InstanceStatus;

    use super::*;
    use crate::decide::fixtures::{self, cluster, instance, now, service, service_state, state};

    fn definition(default: Option<f64>) -> ClusterDefinition {
        let mut web = service("web", 1, 10, &["queue"]);
        web.target_tracking = fixtures::tracking("queue", 10.0);
        web.scale_down_cooldown = Duration::ZERO;
        web.metric_sources.cloudwatch[0].statistics[0].default = default;
        cluster(vec![web])
    }

    fn world() -> ClusterState {
        let size = Resources::new(256, 512);
        state(
            vec![service_state("web", 4, size)],
            vec![instance(1, InstanceStatus::Active, vec![])],
            1,
            1,
        )
    }

    fn report(cycle: &str, age_secs: i64, queue: f64) -> MetricsReport {
        let mut r = MetricsReport::new(
            "c",
            cycle,
            now() - jiff::SignedDuration::from_secs(age_secs),
        );
        r.services
            .entry("web".into())
            .or_default()
            .set_value("queue", queue);
        r
    }

    fn ignored(plan: &ScalingPlan) -> Vec<&str> {
        plan.decisions
            .detail
            .cluster
            .iter()
            .filter_map(|r| match r {
                Reason::ReportIgnored { cycle_id, .. } => Some(cycle_id.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn only_current_reports_drive_the_plan_and_the_others_are_named() {
        let reports = [report("old", 600, 90.0), report("now", 20, 20.0)];
        let plan = plan_delivery(
            &definition(None),
            &reports,
            &world(),
            now(),
            &DeliveryRules::default(),
        );
        assert_eq!(
            plan.actions.services,
            [ServiceChange {
                service: "web".into(),
                from: 4,
                to: 2
            }],
            "20 messages, not the 90 of ten minutes ago"
        );
        assert_eq!(ignored(&plan), ["old"]);
        assert!(
            plan.decisions.headlines[0].starts_with("cluster: metrics report old collected at ")
        );
        assert_eq!(
            plan.metrics_cycle_ids,
            ["old", "now"],
            "every report delivered, oldest first"
        );
        assert_eq!(plan.delivery_id, delivery_id("c", &["now", "old"]));
    }

    #[test]
    fn without_a_current_report_no_rule_recommends_anything_not_even_a_default() {
        let reports = [report("old", 600, 0.0)];
        let plan = plan_delivery(
            &definition(Some(0.0)),
            &reports,
            &world(),
            now(),
            &DeliveryRules::default(),
        );
        assert!(
            plan.actions.services.is_empty(),
            "{:#?}",
            plan.decisions.headlines
        );
        assert_eq!(ignored(&plan), ["old"]);
        assert!(plan
            .decisions
            .detail
            .cluster
            .contains(&Reason::NoCurrentReport { ignored: 1 }));
        let web = &plan.decisions.detail.services[0];
        assert_eq!(
            web.metrics[0].value, None,
            "the default stands in for nothing"
        );
        // A current report whose source failed still gets its default (the collector's case).
        let mut failed = report("now", 20, 0.0);
        failed.services.clear();
        let plan = plan_delivery(
            &definition(Some(0.0)),
            &[failed],
            &world(),
            now(),
            &DeliveryRules::default(),
        );
        assert_eq!(
            plan.actions.services,
            [ServiceChange {
                service: "web".into(),
                from: 4,
                to: 1
            }]
        );
    }

    #[test]
    fn the_plan_lives_for_its_ttl_and_its_delivery_is_its_reports() {
        let rules = DeliveryRules {
            freshness: Freshness::new(Duration::from_secs(180)),
            plan_ttl: Duration::from_secs(45),
        };
        let a = plan_delivery(
            &definition(None),
            &[report("c-1", 10, 90.0)],
            &world(),
            now(),
            &rules,
        );
        let b = plan_delivery(
            &definition(None),
            &[report("c-2", 10, 90.0)],
            &world(),
            now(),
            &rules,
        );
        assert_eq!(a.created_at, now());
        assert_eq!(a.expires_at, now() + jiff::SignedDuration::from_secs(45));
        assert_eq!(a.plan_id, b.plan_id, "the same decision");
        assert_ne!(
            a.delivery_id, b.delivery_id,
            "another cycle, another delivery"
        );
        let again = plan_delivery(
            &definition(None),
            &[report("c-1", 10, 90.0)],
            &world(),
            now(),
            &rules,
        );
        assert_eq!(
            a.delivery_id, again.delivery_id,
            "a replay is the same delivery"
        );
        assert_eq!(
            expires(Timestamp::MAX, Duration::from_secs(1)),
            Timestamp::MAX
        );
    }
}
