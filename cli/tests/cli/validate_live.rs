//! `validate --live`: warnings only the live cluster can give.

use aws_sdk_ecs::types::{
    AutoScalingGroupProvider, ManagedScaling, ManagedScalingStatus, SchedulingStrategy,
};
use testbed::{world, TestBed};

use crate::support::*;

const SERVICE: &str = "
    min: 0
    max: 4
    metric_sources:
      cloudwatch:
        - metric_name: Wanted
          namespace: Test
          statistics:
            - name: Maximum
              alias: q
    target_tracking:
      metric: q
      target: 1
";

#[tokio::test]
async fn validate_live_warns_of_daemon_services_and_a_managed_capacity_provider() {
    let bed = TestBed::start().await;
    let ecs = bed.ecs();
    world::create_cluster(ecs, "daemons").await.unwrap();
    let group = world::create_group(
        bed.autoscaling(),
        ecs,
        "daemons",
        &world::GroupSpec::new("daemons-asg", 1),
    )
    .await
    .unwrap();
    let td = world::register_task_definition(ecs, "app", 256, 512)
        .await
        .unwrap();
    world::create_service(ecs, "daemons", "web", &td, 1)
        .await
        .unwrap();
    ecs.create_service()
        .cluster("daemons")
        .service_name("logs")
        .task_definition(&td)
        .scheduling_strategy(SchedulingStrategy::Daemon)
        .send()
        .await
        .unwrap();
    let dir = tempdir("validate-live");
    std::fs::write(
        dir.join("daemons.yml"),
        format!("autoscale_group: daemons-asg\nservices:\n  web:{SERVICE}  logs:{SERVICE}"),
    )
    .unwrap();

    // Offline, the file is valid and nothing is read.
    let out = run(bed.endpoint(), &["validate", s(&dir)]).await;
    assert_code(&out, 0);
    assert!(!stdout(&out).contains("warning"), "{}", stdout(&out));

    let out = run(bed.endpoint(), &["validate", "--live", s(&dir)]).await;
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("warning: daemons: service `logs` is a DAEMON service"),
        "{text}"
    );
    assert!(!text.contains("`web`"), "{text}");
    assert!(!text.contains("capacity provider"), "{text}");

    // A capacity provider with managed scaling on the group: the cluster would be left alone.
    ecs.create_capacity_provider()
        .name("daemons-cp")
        .auto_scaling_group_provider(
            AutoScalingGroupProvider::builder()
                .auto_scaling_group_arn(&group.arn)
                .managed_scaling(
                    ManagedScaling::builder()
                        .status(ManagedScalingStatus::Enabled)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    ecs.put_cluster_capacity_providers()
        .cluster("daemons")
        .capacity_providers("daemons-cp")
        .set_default_capacity_provider_strategy(Some(vec![]))
        .send()
        .await
        .unwrap();
    let out = run(bed.endpoint(), &["validate", "--live", "--json", s(&dir)]).await;
    assert_code(&out, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let messages: Vec<&str> = json["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`daemons-cp` has managed scaling ENABLED")),
        "{messages:?}"
    );
}

#[tokio::test]
async fn validate_live_warns_of_a_group_weighing_its_instance_types() {
    use aws_sdk_autoscaling::types::{
        LaunchTemplate, LaunchTemplateOverrides, LaunchTemplateSpecification, MixedInstancesPolicy,
    };
    let bed = TestBed::start().await;
    let ecs = bed.ecs();
    world::create_cluster(ecs, "weighed").await.unwrap();
    world::create_group(
        bed.autoscaling(),
        ecs,
        "weighed",
        &world::GroupSpec::new("weighed-asg", 1),
    )
    .await
    .unwrap();
    let dir = tempdir("validate-live-weights");
    std::fs::write(
        dir.join("weighed.yml"),
        format!("autoscale_group: weighed-asg\nservices:\n  web:{SERVICE}"),
    )
    .unwrap();
    let out = run(bed.endpoint(), &["validate", "--live", s(&dir)]).await;
    assert_code(&out, 0);
    assert!(!stdout(&out).contains("warning"), "{}", stdout(&out));

    let ec2 = aws_sdk_ec2::Client::new(bed.sdk_config());
    ec2.create_launch_template()
        .launch_template_name("weighed-lt")
        .launch_template_data(
            aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                .image_id(world::AMI_ID)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let overrides = |t: &str, w: &str| {
        LaunchTemplateOverrides::builder()
            .instance_type(t)
            .weighted_capacity(w)
            .build()
    };
    bed.autoscaling()
        .update_auto_scaling_group()
        .auto_scaling_group_name("weighed-asg")
        .mixed_instances_policy(
            MixedInstancesPolicy::builder()
                .launch_template(
                    LaunchTemplate::builder()
                        .launch_template_specification(
                            LaunchTemplateSpecification::builder()
                                .launch_template_name("weighed-lt")
                                .build(),
                        )
                        .overrides(overrides("m5.large", "1"))
                        .overrides(overrides("m5.xlarge", "2"))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let out = run(bed.endpoint(), &["validate", "--live", s(&dir)]).await;
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("warning: weighed: group `weighed-asg`'s desired capacity is not a count of instances (its mixed instances policy weighs `m5.xlarge` at 2)"),
        "{text}"
    );
}
