//! What the group launches and who else scales it, end to end: a group whose mixed instances
//! policy launches a smaller type than the registered instances (the test bed registers that
//! type's real size, and its scheduler places by it), a policy weighing its types (a desired
//! capacity in units, not instances), and an ECS capacity provider on the group with managed
//! scaling on and off.

use aws_sdk_autoscaling::types::{
    LaunchTemplate, LaunchTemplateOverrides, LaunchTemplateSpecification, MixedInstancesPolicy,
};
use aws_sdk_ecs::types::{AutoScalingGroupProvider, ManagedScaling, ManagedScalingStatus};

use super::*;

/// The smaller type the mixed instances policy puts first (Auto Scaling launches it first, and
/// so does moto): 2 vCPUs, 4 GiB.
const SMALL: &str = "c5.large";
/// What ECS registers on a `c5.large` (Amazon Linux 2023): 2,048 CPU units, about 3,700 MiB.
const SMALL_CPU: u32 = 2048;
const SMALL_MEMORY: u32 = 3700;

fn launched(plan: &ScalingPlan) -> i64 {
    plan.actions
        .group_desired
        .as_ref()
        .map_or(0, |c| i64::from(c.to) - i64::from(c.from))
}

/// From now on the group launches by a mixed instances policy: `c5.large` first, then the
/// registered instances' `m5.large`.
async fn mixed_policy(w: &World) {
    weighted_policy(w, [None, None]).await;
}

/// [`mixed_policy`], the two overrides with these `WeightedCapacity` values.
async fn weighted_policy(w: &World, weights: [Option<&str>; 2]) {
    let ec2 = aws_sdk_ec2::Client::new(w.bed.sdk_config());
    ec2.create_launch_template()
        .launch_template_name("prod-mixed")
        .launch_template_data(
            aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                .image_id(world::AMI_ID)
                .instance_type(aws_sdk_ec2::types::InstanceType::from(SMALL))
                .build(),
        )
        .send()
        .await
        .expect("create the launch template");
    let policy = MixedInstancesPolicy::builder()
        .launch_template(
            LaunchTemplate::builder()
                .launch_template_specification(
                    LaunchTemplateSpecification::builder()
                        .launch_template_name("prod-mixed")
                        .version("$Latest")
                        .build(),
                )
                .overrides(
                    LaunchTemplateOverrides::builder()
                        .instance_type(SMALL)
                        .set_weighted_capacity(weights[0].map(str::to_owned))
                        .build(),
                )
                .overrides(
                    LaunchTemplateOverrides::builder()
                        .instance_type(world::INSTANCE_TYPE)
                        .set_weighted_capacity(weights[1].map(str::to_owned))
                        .build(),
                )
                .build(),
        )
        .build();
    w.bed
        .autoscaling()
        .update_auto_scaling_group()
        .auto_scaling_group_name(GROUP)
        .mixed_instances_policy(policy)
        .send()
        .await
        .expect("give the group a mixed instances policy");
}

#[tokio::test]
async fn a_group_launching_a_smaller_type_gets_enough_instances_of_that_size() {
    // Two m5.large (4096 / 7482 registered), four `web` tasks of 1024 / 1536 on each: full.
    let w = World::build("", 2, 8, None).await;
    mixed_policy(&w).await;
    w.strict
        .set_registered_for_type(SMALL, SMALL_CPU, SMALL_MEMORY);

    // Eight tasks more: two to a c5.large (by CPU and by memory), four to an m5.large. The
    // most common registered size would launch two instances, which come up c5.large.
    let plan = w.plan_at(&wanted(16), time::now()).await;
    let report = w.apply(&plan).await;
    assert_eq!(report.outcome, Outcome::Applied, "{report:?}");

    // The agent registers the new instances, ECS (the test bed's scheduler, reading the sizes
    // through the proxy) places the tasks: every one fits.
    let (ecs, asg) = (w.bed.ecs(), w.bed.autoscaling());
    let new = world::register_group_instances(asg, ecs, CLUSTER, GROUP)
        .await
        .expect("register");
    let through_proxy = aws_sdk_ecs::Client::new(w.strict.sdk_config());
    let types: Vec<String> = scheduler::container_instances(&through_proxy, CLUSTER)
        .await
        .expect("container instances")
        .iter()
        .filter(|ci| new.iter().any(|n| n.container_instance_arn == ci.arn))
        .map(|ci| {
            assert_eq!(
                ci.registered,
                shared::resources::Resources::new(SMALL_CPU, SMALL_MEMORY)
            );
            ci.placement
                .attributes
                .get("ecs.instance-type")
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    assert!(
        types.iter().all(|t| t == SMALL),
        "the group launches its first override: {types:?}"
    );
    let converged = scheduler::converge(&through_proxy, CLUSTER)
        .await
        .expect("converge");
    assert!(
        converged.is_converged(),
        "{converged:?}\n{:#?}",
        plan.decisions.headlines
    );
    assert_eq!(w.web_tasks().await, 16);
    assert_eq!(launched(&plan), 4, "{:#?}", plan.decisions.headlines);
    assert_eq!(new.len(), 4);

    // Stable: the next plan launches nothing more.
    let plan = w.plan_at(&wanted(16), time::now()).await;
    assert_eq!(launched(&plan), 0, "{:#?}", plan.decisions.headlines);
}

/// The cluster gets capacity provider `prod-cp` on the group, managed scaling `status`, and
/// the group the tag ECS puts on it.
async fn capacity_provider(w: &World, status: ManagedScalingStatus) {
    let ecs = w.bed.ecs();
    ecs.create_capacity_provider()
        .name("prod-cp")
        .auto_scaling_group_provider(
            AutoScalingGroupProvider::builder()
                .auto_scaling_group_arn(&w.group.arn)
                .managed_scaling(ManagedScaling::builder().status(status).build())
                .build()
                .expect("the group's ARN"),
        )
        .send()
        .await
        .expect("create the capacity provider");
    ecs.put_cluster_capacity_providers()
        .cluster(CLUSTER)
        .capacity_providers("prod-cp")
        .set_default_capacity_provider_strategy(Some(vec![]))
        .send()
        .await
        .expect("attach it to the cluster");
    w.bed
        .autoscaling()
        .create_or_update_tags()
        .tags(
            aws_sdk_autoscaling::types::Tag::builder()
                .resource_id(GROUP)
                .resource_type("auto-scaling-group")
                .key("AmazonECSManaged")
                .value("")
                .propagate_at_launch(true)
                .build(),
        )
        .send()
        .await
        .expect("tag the group");
}

#[tokio::test]
async fn a_capacity_provider_with_managed_scaling_on_the_group_leaves_the_cluster_alone() {
    let w = World::build("", 1, 0, None).await;
    capacity_provider(&w, ManagedScalingStatus::Enabled).await;
    let (plan, _) = w.cycle(&wanted(9)).await;
    assert!(!plan.has_actions, "{:#?}", plan.decisions.headlines);
    assert!(
        plan.decisions
            .headlines
            .iter()
            .any(|l| l.contains("`prod-cp`")
                && l.contains("managed scaling ENABLED")
                && l.contains("left alone")),
        "{:#?}",
        plan.decisions.headlines
    );
    let (_, _, desired, _) = w.group_now().await;
    assert_eq!(desired, 1);
}

#[tokio::test]
async fn a_capacity_provider_without_managed_scaling_does_not_stop_the_cluster() {
    let w = World::build("", 1, 0, None).await;
    capacity_provider(&w, ManagedScalingStatus::Disabled).await;
    // Nine tasks of 1024 / 1536, four to an instance: two more instances.
    let (plan, report) = w.cycle(&wanted(9)).await;
    assert_eq!(report.outcome, Outcome::Applied, "{report:?}");
    assert_eq!(launched(&plan), 2, "{:#?}", plan.decisions.headlines);
    assert!(
        plan.decisions
            .headlines
            .iter()
            .any(|l| l.contains("`prod-cp`") && l.contains("managed scaling DISABLED")),
        "{:#?}",
        plan.decisions.headlines
    );
    assert_eq!(w.web_tasks().await, 9);
}

#[tokio::test]
async fn a_group_weighing_its_instance_types_is_left_alone() {
    let w = World::build("", 1, 0, None).await;
    // `m5.large` counts 2 units: a desired capacity of 3 could mean two instances, not three.
    weighted_policy(&w, [Some("1"), Some("2")]).await;
    let (_, _, desired_before, _) = w.group_now().await;
    let (plan, _) = w.cycle(&wanted(9)).await;
    assert!(!plan.has_actions, "{:#?}", plan.decisions.headlines);
    assert!(
        plan.decisions
            .headlines
            .iter()
            .any(|l| l.contains("weighs `m5.large` at 2")
                && l.contains("not a count of instances")
                && l.contains("left alone")),
        "{:#?}",
        plan.decisions.headlines
    );
    let (_, _, desired, _) = w.group_now().await;
    assert_eq!(desired, desired_before);
}
