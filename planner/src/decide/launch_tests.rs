//! Tests: a new instance's size from what the group may launch, and a capacity provider on the
//! group, on whole plans and on `instances::new_size`.

use shared::messages::{CountChange, Reason};
use shared::resources::Resources;
use shared::state::{
    CapacityProviderLink, ClusterState, ContainerInstance, InstanceStatus, TypeCapacity,
    INSTANCE_TYPE_ATTRIBUTE,
};

use super::fixtures::*;
use super::instances::new_size;
use super::plan;

const LARGE: Resources = Resources::new(4096, 8192);
const SMALL: Resources = Resources::new(2048, 3584);

/// An ACTIVE instance `n` of `instance_type`, registering `size`, running `tasks` tasks of
/// `web` of 1024 / 1024.
fn of_type(n: u32, instance_type: &str, size: Resources, tasks: usize) -> ContainerInstance {
    let mut ci = instance(
        n,
        InstanceStatus::Active,
        vec![task("web", Resources::new(1024, 1024)); tasks],
    );
    ci.remaining = size.saturating_sub(ci.registered.saturating_sub(ci.remaining));
    ci.registered = size;
    ci.placement
        .attributes
        .insert(INSTANCE_TYPE_ATTRIBUTE.into(), instance_type.into());
    ci
}

/// `web` (1024 / 1024, target tracking on `q`) on `instances`; the group may launch `types`.
fn world(
    instances: Vec<ContainerInstance>,
    types: &[&str],
) -> (shared::definition::ClusterDefinition, ClusterState) {
    let mut def = service("web", 0, 40, &["q"]);
    def.target_tracking = tracking("q", 1.0);
    let running = instances.iter().map(|ci| ci.tasks.len()).sum::<usize>();
    let web = service_state(
        "web",
        u32::try_from(running).unwrap_or(0),
        Resources::new(1024, 1024),
    );
    let mut st = state(vec![web], instances, 0, 20);
    if let Some(g) = st.group.as_mut() {
        g.launch.instance_types = types.iter().map(|t| (*t).to_owned()).collect();
    }
    (cluster(vec![def]), st)
}

fn describe(st: &mut ClusterState, instance_type: &str, resources: Resources, gpus: u32) {
    if let Some(g) = st.group.as_mut() {
        g.launch
            .described
            .insert(instance_type.into(), TypeCapacity { resources, gpus });
    }
}

fn launched(p: &shared::messages::ScalingPlan) -> Option<CountChange> {
    p.actions.group_desired
}

#[test]
fn a_new_instance_is_the_least_of_the_types_the_group_may_launch() {
    // Two full m5.xlarge; the group may launch c5.large too, which no instance shows.
    let (def, mut st) = world(
        vec![
            of_type(0, "m5.xlarge", LARGE, 4),
            of_type(1, "m5.xlarge", LARGE, 4),
        ],
        &["c5.large", "m5.xlarge"],
    );
    describe(&mut st, "c5.large", SMALL, 0);
    let size = new_size(&def, &st);
    assert_eq!(size.resources, Some(SMALL));
    assert_eq!(size.instance_type, None, "several types: unknown");
    // Eight more tasks: two to a c5.large, so four instances (four m5.xlarge would hold them in two).
    let p = plan(&def, &metrics("web", &[("q", 16.0)], &[]), &st, now());
    assert_eq!(launched(&p), Some(CountChange { from: 2, to: 6 }));

    // The group launching only m5.xlarge: two.
    if let Some(g) = st.group.as_mut() {
        g.launch.instance_types = vec!["m5.xlarge".into()];
    }
    let p = plan(&def, &metrics("web", &[("q", 16.0)], &[]), &st, now());
    assert_eq!(launched(&p), Some(CountChange { from: 2, to: 4 }));
}

#[test]
fn each_dimension_is_the_least_of_its_own() {
    // A CPU-heavy and a memory-heavy type: the new instance takes the lesser of each.
    let (def, mut st) = world(vec![], &["c5.2xlarge", "r5.large"]);
    describe(&mut st, "c5.2xlarge", Resources::new(8192, 14746), 0);
    describe(&mut st, "r5.large", Resources::new(2048, 14746), 1);
    let size = new_size(&def, &st);
    assert_eq!(size.resources, Some(Resources::new(2048, 14746)));
    assert_eq!(size.gpus, 0, "one type has none");
}

#[test]
fn registered_instances_of_a_type_win_over_instance_capacity_and_ec2() {
    let (mut def, mut st) = world(
        vec![
            of_type(0, "m5.xlarge", LARGE, 0),
            of_type(1, "m5.xlarge", Resources::new(4096, 7900), 0),
        ],
        &["m5.xlarge", "c5.large"],
    );
    describe(&mut st, "m5.xlarge", Resources::new(4096, 14746), 0);
    describe(&mut st, "c5.large", Resources::new(2048, 3584), 0);
    def.instance_capacity = Some(Resources::new(3000, 6000));
    // m5.xlarge: the least registered (4096 / 7900); c5.large: `instance_capacity`, not EC2.
    assert_eq!(
        new_size(&def, &st).resources,
        Some(Resources::new(3000, 6000))
    );
    def.instance_capacity = None;
    assert_eq!(
        new_size(&def, &st).resources,
        Some(Resources::new(2048, 3584))
    );
    // The group launching only m5.xlarge: its registered size, not EC2's larger figure.
    if let Some(g) = st.group.as_mut() {
        g.launch.instance_types = vec!["m5.xlarge".into()];
    }
    let size = new_size(&def, &st);
    assert_eq!(size.resources, Some(Resources::new(4096, 7900)));
    assert_eq!(size.instance_type.as_deref(), Some("m5.xlarge"));
}

#[test]
fn without_known_types_the_least_registered_instance_stands_for_a_launch() {
    // Two large instances and one small: the most common size would be the large one.
    let (def, st) = world(
        vec![
            of_type(0, "m5.xlarge", LARGE, 0),
            of_type(1, "m5.xlarge", LARGE, 0),
            of_type(2, "c5.large", SMALL, 0),
        ],
        &[],
    );
    let size = new_size(&def, &st);
    assert_eq!(size.resources, Some(SMALL));
    assert!(!size.types_known);

    // A type whose size nothing tells (no instance, not described): the registered ones count.
    let (def, st) = world(vec![of_type(0, "m5.xlarge", LARGE, 0)], &["x9.unheardof"]);
    assert_eq!(new_size(&def, &st).resources, Some(LARGE));
    // ...and with nothing registered either, the size is unknown.
    let (def, st) = world(vec![], &["x9.unheardof"]);
    assert_eq!(new_size(&def, &st).resources, None);
}

#[test]
fn a_capacity_provider_with_managed_scaling_leaves_the_cluster_alone_one_without_does_not() {
    let (def, mut st) = world(vec![of_type(0, "m5.xlarge", LARGE, 4)], &["m5.xlarge"]);
    let wants = metrics("web", &[("q", 8.0)], &[]);
    let link = |managed_scaling| CapacityProviderLink {
        name: "cp".into(),
        managed_scaling,
    };
    if let Some(g) = st.group.as_mut() {
        g.ecs_managed = true;
        g.capacity_provider = Some(link(true));
    }
    let p = plan(&def, &wants, &st, now());
    assert!(!p.has_actions, "{:#?}", p.decisions.headlines);
    assert_eq!(
        p.decisions.detail.cluster,
        vec![Reason::ManagedScalingOnGroup {
            group: "asg".into(),
            provider: "cp".into()
        }]
    );
    if let Some(g) = st.group.as_mut() {
        g.capacity_provider = Some(link(false));
    }
    let p = plan(&def, &wants, &st, now());
    assert_eq!(launched(&p), Some(CountChange { from: 1, to: 2 }));
    assert!(p
        .decisions
        .detail
        .cluster
        .contains(&Reason::ProviderWithoutManagedScaling {
            group: "asg".into(),
            provider: "cp".into()
        }));
}

#[test]
fn a_group_counting_its_capacity_in_units_is_left_alone() {
    let (def, mut st) = world(vec![of_type(0, "m5.xlarge", LARGE, 4)], &["m5.xlarge"]);
    let wants = metrics("web", &[("q", 8.0)], &[]);
    let p = plan(&def, &wants, &st, now());
    assert!(
        p.has_actions,
        "without weights the service scales and the group grows"
    );
    if let Some(g) = st.group.as_mut() {
        g.capacity_in_units = Some("its DesiredCapacityType is `vcpu`".into());
    }
    let p = plan(&def, &wants, &st, now());
    assert!(!p.has_actions, "{:#?}", p.decisions.headlines);
    assert_eq!(
        p.decisions.detail.cluster,
        vec![Reason::CapacityInUnits {
            group: "asg".into(),
            detail: "its DesiredCapacityType is `vcpu`".into()
        }]
    );
    assert!(p.decisions.headlines[0].contains("left alone"));
}
