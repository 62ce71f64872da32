//! The plan check, rule by rule: a plan the file allows passes; each forged field is named.

use std::path::Path;

use super::*;
use crate::definition::parse_definition;
use crate::messages::{
    CountChange, DrainTarget, GroupLimits, GroupLimitsChange, PlanActions, ServiceChange,
    SCHEMA_VERSION,
};
use crate::state::GroupState;

fn definition(name: &str, text: &str) -> ClusterDefinition {
    parse_definition(name, Path::new("c.yml"), text, &|_| None).expect("a valid file")
}

fn files() -> Vec<ClusterDefinition> {
    vec![
        definition(
            "prod",
            "autoscale_group: prod-asg\nmin: 1\nmax: 3\nservices:\n  web: {min: 1, max: 3}\n  worker: {min: 0, max: 5, enabled: false}\n",
        ),
        definition("open", "autoscale_group: open-asg\n"),
        definition("off", "autoscale_group: off-asg\nenabled: false\n"),
        definition("capped", "autoscale_group: capped-asg\nmax: 3\n"),
    ]
}

fn plan(cluster: &str, group: &str, actions: PlanActions) -> ScalingPlan {
    let at = "2026-11-29T10:00:00Z".parse().expect("a time");
    ScalingPlan {
        schema_version: SCHEMA_VERSION,
        plan_id: "p".into(),
        delivery_id: "d".into(),
        cluster: cluster.into(),
        autoscale_group: group.into(),
        created_at: at,
        expires_at: at,
        metrics_cycle_ids: vec![],
        dry_run: false,
        has_actions: true,
        actions,
        decisions: Default::default(),
    }
}

fn prod(actions: PlanActions) -> ScalingPlan {
    plan("prod", "prod-asg", actions)
}

fn web(from: u32, to: u32) -> ServiceChange {
    ServiceChange {
        service: "web".into(),
        from,
        to,
    }
}

fn limits(from: (u32, u32), to: (u32, u32)) -> Option<GroupLimitsChange> {
    Some(GroupLimitsChange {
        from: GroupLimits {
            min: from.0,
            max: from.1,
        },
        to: GroupLimits {
            min: to.0,
            max: to.1,
        },
    })
}

/// The reasons, or none.
fn reasons(plan: &ScalingPlan) -> Vec<String> {
    check(plan, &files()).err().unwrap_or_default()
}

fn one_reason(plan: &ScalingPlan) -> String {
    let why = reasons(plan);
    assert_eq!(why.len(), 1, "{why:#?}");
    why.into_iter().next().unwrap_or_default()
}

#[test]
fn plans_within_the_file_pass() {
    for actions in [
        PlanActions::default(),
        PlanActions {
            services: vec![web(1, 3)],
            group_limits: limits((0, 10), (1, 3)),
            group_desired: Some(CountChange { from: 1, to: 3 }),
            ..Default::default()
        },
        // Above the file's max: MaxSize comes down with the desired capacity, not at once.
        PlanActions {
            group_limits: limits((1, 8), (1, 6)),
            ..Default::default()
        },
        // A raised MinSize alone.
        PlanActions {
            group_limits: limits((0, 3), (1, 3)),
            ..Default::default()
        },
    ] {
        let p = prod(actions);
        assert_eq!(check(&p, &files()), Ok(()), "{:?}", p.actions);
    }
    // Without `min`/`max` in the file, the group's own limits stand: unchanged.
    let p = plan(
        "open",
        "open-asg",
        PlanActions {
            group_desired: Some(CountChange { from: 2, to: 40 }),
            ..Default::default()
        },
    );
    assert_eq!(check(&p, &files()), Ok(()));
}

#[test]
fn the_cluster_must_have_an_enabled_file_and_the_plan_its_group() {
    let unknown = plan("nope", "prod-asg", PlanActions::default());
    assert_eq!(
        check(&unknown, &files()),
        Err(vec![
            "no cluster file of `nope` is loaded: a plan is applied only to a cluster this function has a valid file for".to_owned()
        ])
    );
    assert!(one_reason(&plan("off", "off-asg", PlanActions::default()))
        .contains("the cluster `off` is disabled in its file"));
    assert_eq!(
        one_reason(&plan("prod", "off-asg", PlanActions::default())),
        "the plan names the group `off-asg`, the cluster file `prod-asg`"
    );
}

#[test]
fn each_service_is_the_files_enabled_and_changed_once_within_its_bounds() {
    let services = |changes: Vec<ServiceChange>| {
        prod(PlanActions {
            services: changes,
            ..Default::default()
        })
    };
    assert_eq!(
        one_reason(&services(vec![web(1, 2), web(2, 3)])),
        "service `web` is changed twice in one plan"
    );
    assert_eq!(
        one_reason(&services(vec![ServiceChange {
            service: "db".into(),
            from: 1,
            to: 2
        }])),
        "service `db` is not in the cluster file"
    );
    assert!(one_reason(&services(vec![ServiceChange {
        service: "worker".into(),
        from: 1,
        to: 2
    }]))
    .contains("disabled"));
    assert_eq!(
        one_reason(&services(vec![web(1, 1_000_000_000)])),
        "service `web`: desired count 1000000000 is outside the file's [1, 3]"
    );
    assert_eq!(
        one_reason(&services(vec![web(2, 0)])),
        "service `web`: desired count 0 is outside the file's [1, 3]"
    );
    assert_eq!(
        reasons(&services(vec![web(u32::MAX, 2)])),
        ["service `web`: 4294967295 is larger than the APIs accept (2147483647)"]
    );
}

#[test]
fn the_group_limits_are_the_files_or_left_where_they_are() {
    let group = |l: Option<GroupLimitsChange>, d: Option<CountChange>| {
        prod(PlanActions {
            group_limits: l,
            group_desired: d,
            ..Default::default()
        })
    };
    // The plan: limits 0..60 and a desired capacity of 50 for a file of 1..3.
    assert_eq!(
        reasons(&group(
            limits((1, 3), (0, 60)),
            Some(CountChange { from: 1, to: 50 })
        )),
        [
            "group limits: MinSize 0 is neither the file's min (1) nor the group's (1)",
            "group limits: MaxSize 60 is above the file's max (3) and the group's (3)",
        ]
    );
    assert_eq!(
        one_reason(&group(
            limits((1, 3), (1, 2)),
            Some(CountChange { from: 1, to: 3 })
        )),
        "group desired capacity 3 is outside the limits the plan sets [1, 2]"
    );
    assert!(
        one_reason(&group(limits((3, 4), (3, 2)), None)).contains("MinSize 3 is above MaxSize 2")
    );

    assert_eq!(
        one_reason(&group(
            limits((1, 3), (1, 3)),
            Some(CountChange {
                from: u32::MAX,
                to: 2
            })
        )),
        "group desired capacity: 4294967295 is larger than the APIs accept (2147483647)"
    );
    // Without a `max` in the file MaxSize is never raised.
    let open = plan(
        "open",
        "open-asg",
        PlanActions {
            group_limits: limits((0, 4), (0, 60)),
            ..Default::default()
        },
    );
    assert!(one_reason(&open)
        .contains("MaxSize 60 is above the file's max (not set) and the group's (4)"));
}

#[test]
fn an_instance_is_listed_once_per_action() {
    let instance = |id: &str| InstanceRef {
        container_instance_arn: format!("arn:ci/{id}"),
        ec2_instance_id: format!("i-{id}"),
    };
    let p = prod(PlanActions {
        reactivate: vec![instance("a"), instance("a")],
        drain: vec![DrainTarget::from(instance("b")), instance("b").into()],
        terminate: vec![instance("c"), instance("d")],
        ..Default::default()
    });
    assert_eq!(
        reasons(&p),
        [
            "reactivate: the container instance `arn:ci/a` is listed twice",
            "drain: the container instance `arn:ci/b` is listed twice",
        ]
    );
}

#[test]
fn forged_names_are_cut_and_escaped_in_the_reasons() {
    let p = plan(
        &format!("x\n{}", "y".repeat(10_000)),
        "g",
        PlanActions::default(),
    );
    let why = one_reason(&p);
    assert!(why.starts_with("no cluster file of `x\\ny"), "{why}");
    assert!(why.len() < 300, "{}", why.len());
    assert!(!why.contains('\n'));
}

#[test]
fn the_desired_capacity_is_within_the_files_max_unless_the_groups_limits_contradict_it() {
    let files = files();
    let (prod_file, open_file) = (&files[0], &files[1]);
    let live = |min: u32, max: u32, desired: u32| GroupState {
        name: "prod-asg".into(),
        min,
        max,
        desired,
        instances: vec![],
        ..Default::default()
    };
    let raise = |from: u32, to: u32| {
        prod(PlanActions {
            group_desired: Some(CountChange { from, to }),
            ..Default::default()
        })
    };
    assert_eq!(check_live(&raise(1, 3), prod_file, &live(1, 3, 1)), Ok(()));
    // A group whose MaxSize someone raised to 60 (the file says 3): 50 is refused.
    assert_eq!(
        check_live(&raise(1, 50), prod_file, &live(1, 60, 1)),
        Err(vec![
            "group desired capacity 50 is above the file's max of 3".to_owned()
        ])
    );
    // The plan passes the static check: its own limits allow 50.
    let forged = prod(PlanActions {
        group_limits: limits((1, 60), (1, 60)),
        group_desired: Some(CountChange { from: 1, to: 50 }),
        ..Default::default()
    });
    assert_eq!(check(&forged, &files), Ok(()));
    assert!(check_live(&forged, prod_file, &live(1, 60, 1)).is_err());
    // A group whose MinSize (5) is above the file's max (3), and no min in the file: the file
    // cannot be enforced and the planner plans within the group's own limits.
    let capped = &files[3];
    assert_eq!(check_live(&raise(5, 8), capped, &live(5, 10, 5)), Ok(()));
    assert!(check_live(&raise(2, 8), capped, &live(2, 10, 2)).is_err());
    // No max in the file: the group's MaxSize bounds it (the action's guard).
    assert_eq!(
        check_live(&raise(1, 40), open_file, &live(0, 60, 1)),
        Ok(())
    );
}
