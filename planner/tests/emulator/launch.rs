//! The state reader's reads of what the group launches (`state_reader/launch.rs`): a plain
//! launch template's type, EC2's size of it, and the cluster's capacity providers.

use aws_sdk_autoscaling::types::LaunchTemplateSpecification;
use aws_sdk_ecs::types::{AutoScalingGroupProvider, ManagedScaling, ManagedScalingStatus};
use shared::state::TypeCapacity;

use super::*;

const YAML: &str = "autoscale_group: gpu-asg\nservices:\n  web:\n    min: 0\n    max: 1\n";

/// Cluster `gpu` and group `gpu-asg` of no instance, launching `g4dn.xlarge` (4 vCPUs, 16 GiB,
/// one GPU) by a plain launch template.
async fn seed(bed: &TestBed) {
    world::create_cluster(bed.ecs(), "gpu")
        .await
        .expect("cluster");
    let ec2 = aws_sdk_ec2::Client::new(bed.sdk_config());
    ec2.create_launch_template()
        .launch_template_name("gpu-lt")
        .launch_template_data(
            aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                .image_id(world::AMI_ID)
                .instance_type(aws_sdk_ec2::types::InstanceType::G4dnXlarge)
                .build(),
        )
        .send()
        .await
        .expect("launch template");
    bed.autoscaling()
        .create_auto_scaling_group()
        .auto_scaling_group_name("gpu-asg")
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_name("gpu-lt")
                .build(),
        )
        .min_size(0)
        .max_size(4)
        .desired_capacity(0)
        .availability_zones(world::AVAILABILITY_ZONE)
        .send()
        .await
        .expect("group");
}

#[tokio::test]
async fn state_reader_reads_a_launch_templates_type_and_its_size() {
    let bed = TestBed::start().await;
    seed(&bed).await;
    let log = CallLog::new();
    let clients = aws_clients(bed.counted_clients(&log));
    let cache = TaskDefinitionCache::new();
    let def = definition("gpu", YAML);
    let read = read_cluster_state(&clients, &def, &cache)
        .await
        .expect("read state");
    let group = read.state.group.as_ref().expect("the group");
    assert_eq!(group.launch.instance_types, ["g4dn.xlarge"]);
    // 4 vCPUs, 16,384 MiB less a tenth: what ECS may be counted on for.
    assert_eq!(
        group.launch.described.get("g4dn.xlarge"),
        Some(&TypeCapacity {
            resources: Resources::new(4096, 14746),
            gpus: 1
        })
    );
    assert_eq!(group.capacity_provider, None);
    assert_eq!(
        log.count("DescribeLaunchTemplateVersions"),
        1,
        "{:?}",
        log.ops()
    );
    assert_eq!(log.count("DescribeInstanceTypes"), 1, "{:?}", log.ops());
    assert_eq!(log.count("DescribeClusters"), 1, "{:?}", log.ops());
    assert_eq!(log.count("DescribeCapacityProviders"), 0, "{:?}", log.ops());

    // The plan's new instance, in the empty group, is of EC2's size.
    let plan = planner::plan(&def, &Default::default(), &read.state, shared::time::now());
    let size = plan
        .decisions
        .detail
        .capacity
        .as_ref()
        .and_then(|c| c.instance_size);
    assert_eq!(size, Some(Resources::new(4096, 14746)));

    // `instance_capacity` stands for the types no instance shows: EC2 is not asked.
    log.clear();
    let stated = definition(
        "gpu",
        &format!("instance_capacity: {{cpu: 4096, memory: 15000}}\n{YAML}"),
    );
    let read = read_cluster_state(&clients, &stated, &cache)
        .await
        .expect("read state");
    assert_eq!(log.count("DescribeInstanceTypes"), 0, "{:?}", log.ops());
    let group = read.state.group.as_ref().expect("the group");
    assert!(group.launch.described.is_empty());
}

#[tokio::test]
async fn state_reader_finds_the_clusters_capacity_provider_on_the_group_only() {
    let bed = TestBed::start().await;
    seed(&bed).await;
    let other = world::create_group(
        bed.autoscaling(),
        bed.ecs(),
        "gpu",
        &GroupSpec::new("other-asg", 0),
    )
    .await
    .expect("another group");
    let provider = |name: &str, arn: &str, status: ManagedScalingStatus| {
        let ecs = bed.ecs().clone();
        let (name, arn) = (name.to_owned(), arn.to_owned());
        async move {
            ecs.create_capacity_provider()
                .name(name)
                .auto_scaling_group_provider(
                    AutoScalingGroupProvider::builder()
                        .auto_scaling_group_arn(arn)
                        .managed_scaling(ManagedScaling::builder().status(status).build())
                        .build()
                        .expect("an ARN"),
                )
                .send()
                .await
                .expect("capacity provider");
        }
    };
    provider("other-cp", &other.arn, ManagedScalingStatus::Enabled).await;
    let attach = |names: Vec<String>| {
        let ecs = bed.ecs().clone();
        async move {
            ecs.put_cluster_capacity_providers()
                .cluster("gpu")
                .set_capacity_providers(Some(names))
                .set_default_capacity_provider_strategy(Some(vec![]))
                .send()
                .await
                .expect("attach");
        }
    };
    attach(vec!["FARGATE".into(), "other-cp".into()]).await;
    let log = CallLog::new();
    let clients = aws_clients(bed.counted_clients(&log));
    let cache = TaskDefinitionCache::new();
    let def = definition("gpu", YAML);
    let read = read_cluster_state(&clients, &def, &cache)
        .await
        .expect("read state");
    // A provider on another group is not this group's; FARGATE is not described.
    assert_eq!(
        read.state.group.as_ref().expect("group").capacity_provider,
        None
    );
    assert_eq!(log.count("DescribeCapacityProviders"), 1, "{:?}", log.ops());

    let arn = read::group_arn(&bed, "gpu-asg").await;
    provider("gpu-cp", &arn, ManagedScalingStatus::Disabled).await;
    attach(vec!["other-cp".into(), "gpu-cp".into()]).await;
    let read = read_cluster_state(&clients, &def, &cache)
        .await
        .expect("read state");
    assert_eq!(
        read.state.group.as_ref().expect("group").capacity_provider,
        Some(shared::state::CapacityProviderLink {
            name: "gpu-cp".into(),
            managed_scaling: false
        })
    );
}

mod read {
    use super::*;

    /// The group's ARN, as DescribeAutoScalingGroups gives it.
    pub async fn group_arn(bed: &TestBed, name: &str) -> String {
        shared::aws::read::describe_group(bed.autoscaling(), name)
            .await
            .expect("describe group")
            .and_then(|g| g.auto_scaling_group_arn().map(str::to_owned))
            .expect("an ARN")
    }
}

#[tokio::test]
async fn a_type_ec2_does_not_know_leaves_the_size_to_the_registered_instances() {
    use aws_sdk_autoscaling::types::{
        LaunchTemplate, LaunchTemplateOverrides, MixedInstancesPolicy,
    };
    let bed = TestBed::start().await;
    seed(&bed).await;
    let overrides = |t: &str| LaunchTemplateOverrides::builder().instance_type(t).build();
    bed.autoscaling()
        .update_auto_scaling_group()
        .auto_scaling_group_name("gpu-asg")
        .mixed_instances_policy(
            MixedInstancesPolicy::builder()
                .launch_template(
                    LaunchTemplate::builder()
                        .launch_template_specification(
                            LaunchTemplateSpecification::builder()
                                .launch_template_name("gpu-lt")
                                .build(),
                        )
                        .overrides(overrides("g4dn.xlarge"))
                        .overrides(overrides("x9.unheardof"))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("mixed instances policy");
    let log = CallLog::new();
    let clients = aws_clients(bed.counted_clients(&log));
    let def = definition("gpu", YAML);
    let read = read_cluster_state(&clients, &def, &TaskDefinitionCache::new())
        .await
        .expect("EC2's refusal does not fail the read");
    let group = read.state.group.as_ref().expect("the group");
    assert_eq!(group.launch.instance_types, ["g4dn.xlarge", "x9.unheardof"]);
    assert!(group.launch.described.is_empty());
    // The overrides name the types: no template read; EC2 asked once, and refused.
    assert_eq!(
        log.count("DescribeLaunchTemplateVersions"),
        0,
        "{:?}",
        log.ops()
    );
    assert_eq!(log.count("DescribeInstanceTypes"), 1, "{:?}", log.ops());
    // No registered instance and no `instance_capacity`: the size is unknown, nothing launched.
    let plan = planner::plan(&def, &Default::default(), &read.state, shared::time::now());
    let capacity = plan.decisions.detail.capacity.as_ref().expect("capacity");
    assert_eq!(capacity.instance_size, None);
}
