//! The live state of a cluster, as the planner reads it and the executor re-checks it.
//!
//! Plain data: the planner core is a pure function of a [`ClusterState`], and tests
//! build states by hand. `shared::aws::state` (feature `aws`) fills it from ECS and Auto
//! Scaling answers, for the planner's reader, the executor's re-read and the test bed alike.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::resources::Resources;

/// Everything the planner needs to know about one cluster.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ClusterState {
    /// ECS cluster name.
    pub cluster: String,
    /// Services named in the definition that exist in ECS.
    pub services: Vec<ServiceState>,
    /// Container instances, ACTIVE and DRAINING.
    pub instances: Vec<ContainerInstance>,
    /// The cluster's Auto Scaling group, when it exists.
    pub group: Option<GroupState>,
    /// Why the ECS task scale-in protection of the drain candidates' tasks could not be read
    /// (GetTaskProtection failed: no permission, throttled, not implemented), when it could not.
    /// The core then drains no busy instance: any of its tasks might be protected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_protection_unread: Option<String>,
}

impl ClusterState {
    /// The service of that name.
    pub fn service(&self, name: &str) -> Option<&ServiceState> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The container instance running on that EC2 instance.
    pub fn instance_by_ec2_id(&self, id: &str) -> Option<&ContainerInstance> {
        self.instances.iter().find(|i| i.ec2_instance_id == id)
    }
}

/// Which way a service was last scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// More tasks.
    Up,
    /// Fewer tasks.
    Down,
}

/// The last scaling the executor recorded on a service (a tag, see `ARCHITECTURE.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalingRecord {
    /// Up or down.
    pub direction: Direction,
    /// When, in seconds since the Unix epoch.
    pub at_epoch_secs: u64,
}

/// One ECS service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceState {
    /// Service name.
    pub name: String,
    /// Full service ARN.
    pub arn: String,
    /// `ACTIVE`, `DRAINING` or `INACTIVE`.
    pub status: String,
    /// desiredCount.
    pub desired: u32,
    /// runningCount.
    pub running: u32,
    /// pendingCount.
    pub pending: u32,
    /// The task definition ARN the service runs.
    pub task_definition: String,
    /// Reservation of one task (task-level size, else the sum over containers);
    /// [`Resources::ZERO`] where the reader had no use for it (the executor's re-read).
    pub task_size: Resources,
    /// GPUs one task reserves (`resourceRequirements` of type `GPU`), an instance resource
    /// like CPU and memory. 0 where the reader had no use for it.
    #[serde(default)]
    pub gpu: u32,
    /// Placement constraint `distinctInstance`: at most one task per instance.
    pub distinct_instance: bool,
    /// What placement needs to know: launch type, scheduling strategy, constraints, ports.
    #[serde(default)]
    pub placement: ServicePlacement,
    /// The last scaling recorded by the executor.
    pub last_scaling: Option<ScalingRecord>,
    /// Tagged [`DO_NOT_DISRUPT_TAG`]`=true`: instances running its tasks are not drained for
    /// consolidation.
    #[serde(default)]
    pub do_not_disrupt: bool,
}

/// What the placement of a service's tasks depends on, besides their size.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServicePlacement {
    /// Where its tasks run: only [`Launch::Ec2`] tasks take room on the group's instances.
    #[serde(default)]
    pub launch: Launch,
    /// REPLICA (the desired count is scaled) or DAEMON (one task per instance, never scaled).
    #[serde(default)]
    pub scheduling: Scheduling,
    /// The expressions of its `memberOf` placement constraints, as ECS gives them (every one
    /// must hold on an instance that receives a task).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub member_of: Vec<String>,
    /// Its placement strategy, `type:field` per entry (e.g. `spread:attribute:ecs.availability-zone`);
    /// empty when the service has none (ECS then spreads its tasks over availability zones).
    /// The planner simulates a spread over zones when it comes first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placement_strategy: Vec<String>,
    /// The task definition's network mode.
    #[serde(default)]
    pub network_mode: NetworkMode,
    /// Static host ports one task binds on its instance (bridge and host networking): two
    /// tasks binding the same port never share an instance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_ports: Vec<HostPort>,
    /// Why its placement cannot be modelled (an unknown constraint type, an unknown network
    /// mode, an unreadable task definition): the planner leaves it at its count and places
    /// none of its tasks. `None` for a service it understands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmodelled: Option<String>,
}

/// Where a service's tasks run.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Launch {
    /// Launch type EC2 (or none given, and no capacity provider strategy): the cluster's
    /// container instances.
    #[default]
    Ec2,
    /// Launch type FARGATE, or a capacity provider strategy of FARGATE / FARGATE_SPOT only.
    Fargate,
    /// A capacity provider strategy naming other providers: their managed scaling places and
    /// launches for these tasks, not this autoscaler.
    CapacityProviders {
        /// The providers named.
        providers: Vec<String>,
    },
    /// Launch type EXTERNAL (ECS Anywhere): instances outside the group.
    External,
}

impl Launch {
    /// Whether its tasks need room on the group's instances.
    pub fn on_instances(&self) -> bool {
        *self == Launch::Ec2
    }
}

/// ECS's scheduling strategy of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Scheduling {
    /// A desired count of tasks placed by the placement rules.
    #[default]
    Replica,
    /// One task on every container instance that satisfies its constraints.
    Daemon,
}

/// A task definition's network mode.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    /// `bridge`, ECS's default on Linux EC2 instances: a `hostPort` other than 0 is static.
    #[default]
    Bridge,
    /// `host`: every container port is a host port.
    Host,
    /// `awsvpc`: an elastic network interface per task, no host ports.
    Awsvpc,
    /// `none`: no networking.
    None,
    /// A mode this model does not know.
    Other(String),
}

impl NetworkMode {
    /// The mode of ECS's spelling (absent: `bridge`).
    pub fn from_ecs(mode: Option<&str>) -> Self {
        match mode.map(str::trim) {
            None | Some("bridge") => NetworkMode::Bridge,
            Some("host") => NetworkMode::Host,
            Some("awsvpc") => NetworkMode::Awsvpc,
            Some("none") => NetworkMode::None,
            Some(other) => NetworkMode::Other(other.to_owned()),
        }
    }
}

/// A transport protocol of a host port.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// TCP (ECS's `PORTS` resource).
    Tcp,
    /// UDP (ECS's `PORTS_UDP` resource).
    Udp,
}

/// A port bound on a container instance.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct HostPort {
    /// The port number.
    pub port: u16,
    /// Its protocol.
    pub protocol: Protocol,
}

impl HostPort {
    /// A TCP port.
    pub fn tcp(port: u16) -> Self {
        HostPort {
            port,
            protocol: Protocol::Tcp,
        }
    }

    /// A UDP port.
    pub fn udp(port: u16) -> Self {
        HostPort {
            port,
            protocol: Protocol::Udp,
        }
    }
}

impl std::fmt::Display for HostPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        };
        write!(f, "{}/{p}", self.port)
    }
}

/// ECS attribute of a container instance's EC2 instance type.
pub const INSTANCE_TYPE_ATTRIBUTE: &str = "ecs.instance-type";
/// ECS attribute of a container instance's availability zone.
pub const AVAILABILITY_ZONE_ATTRIBUTE: &str = "ecs.availability-zone";

/// Status of a container instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstanceStatus {
    /// Takes new tasks.
    Active,
    /// Being emptied; takes no new tasks.
    Draining,
    /// Any other status ECS reports (REGISTERING, DEREGISTERING, ...).
    #[serde(untagged)]
    Other(String),
}

impl InstanceStatus {
    /// The status as ECS spells it: `ACTIVE`, `DRAINING`, ...
    pub fn as_str(&self) -> &str {
        match self {
            InstanceStatus::Active => "ACTIVE",
            InstanceStatus::Draining => "DRAINING",
            InstanceStatus::Other(other) => other,
        }
    }

    /// The status of ECS's spelling.
    pub fn from_ecs(status: &str) -> Self {
        match status {
            "ACTIVE" => InstanceStatus::Active,
            "DRAINING" => InstanceStatus::Draining,
            other => InstanceStatus::Other(other.to_owned()),
        }
    }
}

impl std::fmt::Display for InstanceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for InstanceStatus {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for InstanceStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One ECS task as DescribeTasks reports it, wherever it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Full task ARN.
    pub arn: String,
    /// The cluster it belongs to, when ECS says.
    pub cluster_arn: Option<String>,
    /// The container instance it runs on (none on Fargate, or before placement).
    pub container_instance_arn: Option<String>,
    /// Its group, e.g. `service:web` (empty when ECS gives none).
    pub group: String,
    /// `startedBy` (empty when ECS gives none).
    pub started_by: String,
    /// Its task definition ARN (empty when ECS gives none).
    pub task_definition_arn: String,
    /// `lastStatus`, e.g. `RUNNING`.
    pub last_status: String,
    /// `desiredStatus`, e.g. `RUNNING`.
    pub desired_status: String,
    /// Task-level CPU units, when ECS reports them.
    pub cpu: Option<u32>,
    /// Task-level memory (MiB), when ECS reports it.
    pub memory: Option<u32>,
}

impl Task {
    /// The service that started it, from its group (see [`service_of_group`]).
    pub fn service(&self) -> Option<&str> {
        service_of_group(&self.group)
    }
}

/// The service a task group names: `service:NAME` → `NAME`.
pub fn service_of_group(group: &str) -> Option<&str> {
    group.strip_prefix("service:").filter(|s| !s.is_empty())
}

/// A task placed on a container instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlacedTask {
    /// Full task ARN.
    pub arn: String,
    /// The service that started it (from its `group`, `service:NAME`), if any.
    pub service: Option<String>,
    /// Its reservation.
    pub size: Resources,
    /// ECS task scale-in protection (GetTaskProtection), when it was read and enabled: until
    /// then, seconds since the epoch (`u64::MAX` when ECS gave no expiry). Read only for the
    /// tasks of the instances consolidation may drain; `None` elsewhere.
    #[serde(default)]
    pub protected_until_epoch_secs: Option<u64>,
}

impl PlacedTask {
    /// Whether its scale-in protection holds at `now_secs`.
    pub fn protected_at(&self, now_secs: u64) -> bool {
        self.protected_until_epoch_secs
            .is_some_and(|until| until > now_secs)
    }
}

/// One ECS container instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerInstance {
    /// Full container instance ARN (the identifier ECS needs for every call).
    pub arn: String,
    /// The EC2 instance behind it.
    pub ec2_instance_id: String,
    /// ACTIVE, DRAINING, ...
    pub status: InstanceStatus,
    /// registeredResources.
    pub registered: Resources,
    /// remainingResources.
    pub remaining: Resources,
    /// runningTasksCount.
    pub running_tasks: u32,
    /// pendingTasksCount.
    pub pending_tasks: u32,
    /// The tasks on it, when the reader listed them.
    pub tasks: Vec<PlacedTask>,
    /// When this system drained it, seconds since the epoch: the executor's
    /// [`DRAINED_AT_ATTRIBUTE`]. `None`: not drained by this system (a DRAINING instance without
    /// it is someone else's drain: an operator, a spot interruption, an instance refresh).
    pub draining_since_epoch_secs: Option<u64>,
    /// `agentConnected`: a disconnected agent keeps its tasks but receives none.
    #[serde(default = "connected")]
    pub agent_connected: bool,
    /// When this system last aborted a drain of it (its drain deadline passed with tasks left),
    /// seconds since the epoch: the executor's [`DRAIN_ABORTED_AT_ATTRIBUTE`]. The planner does
    /// not drain it again for the cluster's `drain_abort_cooldown`.
    #[serde(default)]
    pub drain_aborted_at_epoch_secs: Option<u64>,
    /// Ports, GPUs and attributes: what placement checks besides CPU and memory.
    #[serde(default)]
    pub placement: InstancePlacement,
}

/// What placement checks on a container instance besides CPU and memory.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InstancePlacement {
    /// Host ports in use (remainingResources `PORTS` and `PORTS_UDP`: the agent's reserved
    /// ports and those its tasks bind): a task binding one of them cannot go there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports_in_use: Vec<HostPort>,
    /// GPUs registered (registeredResources `GPU`).
    #[serde(default)]
    pub gpus: u32,
    /// GPUs not reserved by its tasks (remainingResources `GPU`).
    #[serde(default)]
    pub gpus_free: u32,
    /// Its attributes, name to value (empty for an attribute without one): ECS's own
    /// (`ecs.instance-type`, `ecs.availability-zone`, `ecs.os-type`, ...) and custom ones.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub attributes: std::collections::BTreeMap<String, String>,
}

impl InstancePlacement {
    /// The value of an attribute, when it has one.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }
}

fn connected() -> bool {
    true
}

impl ContainerInstance {
    /// Resources reserved by its tasks.
    pub fn used(&self) -> Resources {
        self.registered.saturating_sub(self.remaining)
    }

    /// Whether it runs or is about to run any task.
    pub fn has_tasks(&self) -> bool {
        self.running_tasks > 0 || self.pending_tasks > 0
    }

    /// Whether this system drained it (it carries [`DRAINED_AT_ATTRIBUTE`]).
    pub fn drained_by_us(&self) -> bool {
        self.draining_since_epoch_secs.is_some()
    }

    /// The container instance id: the last segment of its ARN, as PutAttributes' `targetId`
    /// takes it (with `targetType` `container-instance`).
    pub fn id(&self) -> &str {
        container_instance_id(&self.arn)
    }
}

/// The id of a container instance ARN: its last `/` segment (the ARN itself when it has none).
pub fn container_instance_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// An EC2 instance of the Auto Scaling group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupInstance {
    /// EC2 instance id.
    pub instance_id: String,
    /// `Pending`, `InService`, `Terminating`, ...
    pub lifecycle_state: String,
    /// `Healthy` or `Unhealthy`.
    pub health_status: String,
    /// Protected from scale-in.
    pub protected_from_scale_in: bool,
    /// When EC2 launched it, seconds since the epoch; read only for InService instances that
    /// have no container instance (see the planner's state reader), else `None`.
    #[serde(default)]
    pub launched_at_epoch_secs: Option<u64>,
    /// Its availability zone, as Auto Scaling lists it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
}

impl GroupInstance {
    /// Whether it is `InService`: the only state in which an instance is capacity and ours to act on.
    pub fn in_service(&self) -> bool {
        self.lifecycle_state == "InService"
    }
}

/// The cluster's Auto Scaling group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    /// Group name.
    pub name: String,
    /// MinSize.
    pub min: u32,
    /// MaxSize.
    pub max: u32,
    /// DesiredCapacity.
    pub desired: u32,
    /// Its instances.
    pub instances: Vec<GroupInstance>,
    /// The availability zones it launches in (`AvailabilityZones`): Auto Scaling puts each new
    /// instance in the one with the fewest of its instances.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub availability_zones: Vec<String>,
    /// It carries the [`ECS_MANAGED_TAG`]: an ECS capacity provider is attached to it, whose
    /// managed scaling would fight this autoscaler over the desired capacity.
    #[serde(default)]
    pub ecs_managed: bool,
    /// What the group may launch: its instance types and what EC2 says of their sizes.
    #[serde(default)]
    pub launch: GroupLaunch,
    /// The cluster's ECS capacity provider on this group, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_provider: Option<CapacityProviderLink>,
    /// Why its desired capacity is not a count of instances, when it is not: a mixed instances
    /// policy weighing a type other than 1 (`WeightedCapacity`), or a `DesiredCapacityType` of
    /// `vcpu` or `memory-mib`. The planner counts instances, so it leaves such a group alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_in_units: Option<String>,
}

/// The instance types a group may launch, from its mixed instances policy's overrides, its
/// launch template or its launch configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupLaunch {
    /// The instance types, in the group's order; empty when they are not known (attribute-based
    /// instance selection, a launch template without an instance type, an unreadable template).
    #[serde(default)]
    pub instance_types: Vec<String>,
    /// What an instance of each type registers in ECS by EC2's description of the type
    /// ([`type_capacity`]); read only for types with no registered instance.
    #[serde(default)]
    pub described: std::collections::BTreeMap<String, TypeCapacity>,
}

/// The resources an instance type brings to ECS, as EC2 describes the type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeCapacity {
    /// CPU units and MiB ECS can reserve ([`type_capacity`]).
    pub resources: Resources,
    /// GPUs.
    #[serde(default)]
    pub gpus: u32,
}

/// MiB of an instance's memory never counted as ECS's to reserve: what the OS, the ECS agent
/// and Docker take before ECS registers the instance. ECS registers a bit less memory than EC2
/// sells (about 5% on Amazon Linux 2023); this takes 10%, at least 512 MiB, so a capacity read
/// from EC2 is never above what the instance registers.
pub fn memory_not_registered(memory_mib: u32) -> u32 {
    (memory_mib / 10).max(512)
}

/// What an instance of `vcpus` vCPUs, `memory_mib` MiB and `gpus` GPUs offers ECS: 1,024 CPU
/// units per vCPU (as ECS registers them) and the memory less [`memory_not_registered`].
pub fn type_capacity(vcpus: u32, memory_mib: u32, gpus: u32) -> TypeCapacity {
    TypeCapacity {
        resources: Resources::new(
            vcpus.saturating_mul(1024),
            memory_mib.saturating_sub(memory_not_registered(memory_mib)),
        ),
        gpus,
    }
}

/// An ECS capacity provider of the cluster whose Auto Scaling group is this group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapacityProviderLink {
    /// The provider's name.
    pub name: String,
    /// Its managed scaling is `ENABLED`: ECS sets the group's desired capacity.
    pub managed_scaling: bool,
}

/// Tag ECS adds to an Auto Scaling group when a capacity provider is associated with it.
pub const ECS_MANAGED_TAG: &str = "AmazonECSManaged";

impl GroupState {
    /// The group's instance of that EC2 id.
    pub fn instance(&self, instance_id: &str) -> Option<&GroupInstance> {
        self.instances.iter().find(|i| i.instance_id == instance_id)
    }
}

/// Tag the executor puts on a service after changing its desired count, read by the
/// planner for cooldowns. Value: `up 1764412345` or `down 1764412345` (direction, then
/// seconds since the Unix epoch).
pub const LAST_SCALING_TAG: &str = "ecs-autoscale:last-scaling";

/// ECS attribute the executor puts on a container instance it drains (PutAttributes, just
/// before UpdateContainerInstancesState) and removes when it reactivates it. Value: seconds
/// since the Unix epoch. An attribute rather than a tag: DescribeContainerInstances returns
/// attributes in every answer (no `include`, no extra read), and the emulator implements
/// PutAttributes on container instances but not TagResource.
pub const DRAINED_AT_ATTRIBUTE: &str = "ecs-autoscale.drained-at";

/// ECS attribute the executor puts on a container instance whose drain it aborts (the drain
/// deadline passed with tasks left, `drain_timeout_action: abort`). Value: seconds since the
/// Unix epoch. Durable memory of the abort, so the planner does not drain the instance again
/// for the cooldown; read from DescribeContainerInstances like [`DRAINED_AT_ATTRIBUTE`].
pub const DRAIN_ABORTED_AT_ATTRIBUTE: &str = "ecs-autoscale.drain-aborted-at";

/// ECS service tag that keeps instances running the service's tasks from being drained for
/// consolidation (as `disruption: never` in the cluster file), when its value is `true`.
pub const DO_NOT_DISRUPT_TAG: &str = "ecs-autoscale:do-not-disrupt";

impl ScalingRecord {
    /// The tag value, `up 1764412345`.
    pub fn to_tag_value(&self) -> String {
        let d = match self.direction {
            Direction::Up => "up",
            Direction::Down => "down",
        };
        format!("{d} {}", self.at_epoch_secs)
    }

    /// Read a tag value; `None` when it is not of that shape (a hand-edited tag is ignored).
    pub fn from_tag_value(value: &str) -> Option<Self> {
        let mut parts = value.split_whitespace();
        let direction = match parts.next()? {
            "up" => Direction::Up,
            "down" => Direction::Down,
            _ => return None,
        };
        let at_epoch_secs = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(ScalingRecord {
            direction,
            at_epoch_secs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_tag_round_trips_and_rejects_junk() {
        let r = ScalingRecord {
            direction: Direction::Down,
            at_epoch_secs: 1_764_412_345,
        };
        assert_eq!(r.to_tag_value(), "down 1764412345");
        assert_eq!(ScalingRecord::from_tag_value("down 1764412345"), Some(r));
        for junk in ["", "sideways 1", "up", "up x", "up 1 2"] {
            assert_eq!(ScalingRecord::from_tag_value(junk), None, "{junk}");
        }
    }

    #[test]
    fn used_is_registered_minus_remaining() {
        let i = ContainerInstance {
            arn: "arn".into(),
            ec2_instance_id: "i-1".into(),
            status: InstanceStatus::Active,
            registered: Resources::new(4096, 7482),
            remaining: Resources::new(1024, 482),
            running_tasks: 3,
            pending_tasks: 0,
            tasks: vec![],
            draining_since_epoch_secs: None,
            agent_connected: true,
            drain_aborted_at_epoch_secs: None,
            placement: InstancePlacement::default(),
        };
        assert_eq!(i.used(), Resources::new(3072, 7000));
        assert!(i.has_tasks());
        assert!(!i.drained_by_us());
        assert_eq!(i.id(), "arn");
        assert_eq!(
            container_instance_id("arn:aws:ecs:us-east-1:1:container-instance/prod/0f1e"),
            "0f1e"
        );
    }

    #[test]
    fn instance_status_reads_ecs_strings() {
        let s: InstanceStatus = serde_json::from_str("\"DRAINING\"").unwrap();
        assert_eq!(s, InstanceStatus::Draining);
        let s: InstanceStatus = serde_json::from_str("\"REGISTERING\"").unwrap();
        assert_eq!(s, InstanceStatus::Other("REGISTERING".into()));
    }

    #[test]
    fn instance_status_spells_as_ecs_does() {
        for text in ["ACTIVE", "DRAINING", "REGISTERING"] {
            let s = InstanceStatus::from_ecs(text);
            assert_eq!(s.to_string(), text);
            assert_eq!(s, text);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{text}\""));
        }
        assert_eq!(InstanceStatus::from_ecs("ACTIVE"), InstanceStatus::Active);
        assert_ne!(InstanceStatus::Draining, "ACTIVE");
    }

    #[test]
    fn task_groups_name_services() {
        assert_eq!(service_of_group("service:web"), Some("web"));
        assert_eq!(service_of_group("family:web"), None);
        assert_eq!(service_of_group("service:"), None);
        assert_eq!(service_of_group(""), None);
    }
}
