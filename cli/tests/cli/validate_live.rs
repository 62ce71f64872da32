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
