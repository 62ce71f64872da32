//! The call budget: a plan touching S services and I instances reads with at most ⌈S/10⌉
//! DescribeServices, one DescribeAutoScalingGroups and ⌈I/100⌉ DescribeContainerInstances; a
//! plan that drains reads the cluster's C container instances instead (max(1, ⌈C/100⌉)
//! ListContainerInstances and ⌈C/100⌉ DescribeContainerInstances), for the room its tasks
//! move to.

use executor::{apply, ApplyOptions};
use shared::messages::{CountChange, InstanceRef, PlanActions};
use testbed::{CallLog, TestBed};

use crate::support::*;

const NAMES: [&str; 12] = [
    "s01", "s02", "s03", "s04", "s05", "s06", "s07", "s08", "s09", "s10", "s11", "s12",
];

#[tokio::test]
async fn reads_are_batched_within_the_budget() {
    let bed = TestBed::start().await;
    let specs: Vec<ServiceSpec> = NAMES.iter().map(|n| (*n, 128, 128, 1)).collect();
    let group = build_world(&bed, 3, &specs).await;
    // I = 123: two real drains, 120 instances ECS does not know (stale), one termination.
    let mut drain = vec![
        drain_of(&bed, &group, 1).await,
        drain_of(&bed, &group, 2).await,
    ];
    drain.extend((0..120).map(|i| {
        InstanceRef {
            container_instance_arn: format!(
                "arn:aws:ecs:us-east-1:123456789012:container-instance/{CLUSTER}/{i:032x}"
            ),
            ec2_instance_id: format!("i-{i:017x}"),
        }
        .into()
    }));
    let p = plan(
        "p-budget",
        PlanActions {
            group_desired: Some(CountChange { from: 3, to: 4 }),
            services: NAMES.iter().map(|n| service(n, 1, 2)).collect(),
            drain,
            terminate: vec![instance(&group, 0)],
            ..Default::default()
        },
    );
    let log = CallLog::new();
    let clients = counted(&bed, &log).await;
    let report = apply(&clients, &p, &ApplyOptions::default())
        .await
        .expect("apply");
    assert_eq!(report.actions.len(), 1 + 12 + 122 + 1);

    let reads = [
        ("DescribeServices", 2),           // ⌈12/10⌉
        ("DescribeAutoScalingGroups", 1),  // one
        ("ListContainerInstances", 1),     // the plan drains: the cluster's 3 instances
        ("DescribeContainerInstances", 1), // ⌈3/100⌉
    ];
    let writes = [
        ("SetDesiredCapacity", 1),
        ("UpdateService", 12),
        ("TagResource", 12),
        ("PutAttributes", 1), // the two approved drains' records in one call
        ("UpdateContainerInstancesState", 1), // the two approved drains in one call
    ];
    for (op, n) in reads.iter().chain(&writes) {
        assert_eq!(log.count(op), *n, "{op}: {:?}", log.ops());
    }
    let expected: usize = reads.iter().chain(&writes).map(|(_, n)| n).sum();
    assert_eq!(log.total(), expected, "no other call: {:?}", log.ops());

    // A plan of services only reads services only.
    log.clear();
    let services_only = plan(
        "p-services",
        PlanActions {
            services: vec![service("s01", 2, 3)],
            ..Default::default()
        },
    );
    apply(&clients, &services_only, &ApplyOptions::default())
        .await
        .expect("apply");
    assert_eq!(
        log.ops(),
        ["DescribeServices", "UpdateService", "TagResource"]
    );
}
