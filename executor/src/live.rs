//! The re-reads: the live values a plan's guards compare with, read in as few calls as the APIs
//! allow and only for what the plan touches (⌈S/10⌉ DescribeServices, one
//! DescribeAutoScalingGroups, ⌈I/100⌉ DescribeContainerInstances).
//!
//! The snapshot is updated locally after each successful change, so that a later action of
//! the same plan sees what the earlier ones did (e.g. the group's desired capacity after a
//! termination) without reading again.

use std::collections::HashMap;

use shared::state::{ScalingRecord, LAST_SCALING_TAG};

use crate::errors::{classify, CallError};

/// DescribeServices accepts at most this many services.
const SERVICES_PER_CALL: usize = 10;
/// DescribeContainerInstances accepts at most this many container instances.
const INSTANCES_PER_CALL: usize = 100;

/// The Auto Scaling group as read before applying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveGroup {
    /// MinSize.
    pub min: u32,
    /// MaxSize.
    pub max: u32,
    /// DesiredCapacity.
    pub desired: u32,
    /// Its instances: EC2 id → lifecycle state (`InService`, `Terminating`, ...).
    pub instances: HashMap<String, String>,
}

impl LiveGroup {
    /// Whether the EC2 instance is still a member the group could terminate (not already on
    /// its way out).
    pub fn holds(&self, ec2_instance_id: &str) -> bool {
        self.instances
            .get(ec2_instance_id)
            .is_some_and(|state| !(state.starts_with("Terminat") || state.starts_with("Detach")))
    }
}

/// A container instance as read before applying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveInstance {
    /// The EC2 instance behind it.
    pub ec2_instance_id: String,
    /// `ACTIVE`, `DRAINING`, ...
    pub status: String,
    /// runningTasksCount.
    pub running_tasks: u32,
    /// pendingTasksCount.
    pub pending_tasks: u32,
}

/// A service as read before applying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveService {
    /// Full ARN (what TagResource needs).
    pub arn: String,
    /// `ACTIVE`, `DRAINING`, `INACTIVE`.
    pub status: String,
    /// desiredCount.
    pub desired: u32,
    /// The executor's last recorded scaling (the [`LAST_SCALING_TAG`] tag), if readable.
    pub last_scaling: Option<ScalingRecord>,
}

/// What the plan's actions compare with. A part the plan does not touch is left empty; a
/// missing key in a part that was read means the resource does not exist; an error is a
/// non-retryable read failure, which fails the actions that needed that part.
#[derive(Debug, Clone)]
pub struct Live {
    /// The group (`None` when it does not exist).
    pub group: Result<Option<LiveGroup>, CallError>,
    /// Container instances by full ARN.
    pub instances: Result<HashMap<String, LiveInstance>, CallError>,
    /// Services by name.
    pub services: Result<HashMap<String, LiveService>, CallError>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            group: Ok(None),
            instances: Ok(HashMap::new()),
            services: Ok(HashMap::new()),
        }
    }
}

fn count(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

/// One DescribeAutoScalingGroups; `None` when the group does not exist.
pub async fn read_group(
    autoscaling: &aws_sdk_autoscaling::Client,
    name: &str,
) -> Result<Option<LiveGroup>, CallError> {
    const OP: &str = "DescribeAutoScalingGroups";
    let out = autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .map_err(|e| classify(OP, &e))?;
    let Some(group) = out
        .auto_scaling_groups()
        .iter()
        .find(|g| g.auto_scaling_group_name() == Some(name))
    else {
        return Ok(None);
    };
    let (Some(min), Some(max), Some(desired)) =
        (group.min_size(), group.max_size(), group.desired_capacity())
    else {
        return Err(CallError::invalid_answer(
            OP,
            format!("group {name} is missing MinSize, MaxSize or DesiredCapacity"),
        ));
    };
    let instances = group
        .instances()
        .iter()
        .filter_map(|i| {
            Some((
                i.instance_id()?.to_owned(),
                i.lifecycle_state()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            ))
        })
        .collect();
    Ok(Some(LiveGroup {
        min: count(min),
        max: count(max),
        desired: count(desired),
        instances,
    }))
}

/// DescribeContainerInstances 100 at a time; instances ECS does not know are absent.
pub async fn read_instances(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
) -> Result<HashMap<String, LiveInstance>, CallError> {
    const OP: &str = "DescribeContainerInstances";
    let mut found = HashMap::new();
    for chunk in arns.chunks(INSTANCES_PER_CALL) {
        let out = ecs
            .describe_container_instances()
            .cluster(cluster)
            .set_container_instances(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| classify(OP, &e))?;
        // Failures (reason MISSING) are simply absent from the map: the guards decide.
        for ci in out.container_instances() {
            let Some(arn) = ci.container_instance_arn() else {
                continue;
            };
            found.insert(
                arn.to_owned(),
                LiveInstance {
                    ec2_instance_id: ci.ec2_instance_id().unwrap_or_default().to_owned(),
                    status: ci.status().unwrap_or_default().to_owned(),
                    running_tasks: count(ci.running_tasks_count()),
                    pending_tasks: count(ci.pending_tasks_count()),
                },
            );
        }
    }
    Ok(found)
}

/// DescribeServices (with tags) 10 at a time; services ECS does not know are absent.
pub async fn read_services(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    names: &[String],
) -> Result<HashMap<String, LiveService>, CallError> {
    const OP: &str = "DescribeServices";
    let mut found = HashMap::new();
    for chunk in names.chunks(SERVICES_PER_CALL) {
        let out = ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .include(aws_sdk_ecs::types::ServiceField::Tags)
            .send()
            .await
            .map_err(|e| classify(OP, &e))?;
        for s in out.services() {
            let (Some(name), Some(arn)) = (s.service_name(), s.service_arn()) else {
                continue;
            };
            let last_scaling = s
                .tags()
                .iter()
                .find(|t| t.key() == Some(LAST_SCALING_TAG))
                .and_then(|t| t.value())
                .and_then(ScalingRecord::from_tag_value);
            found.insert(
                name.to_owned(),
                LiveService {
                    arn: arn.to_owned(),
                    status: s.status().unwrap_or_default().to_owned(),
                    desired: count(s.desired_count()),
                    last_scaling,
                },
            );
        }
    }
    Ok(found)
}
