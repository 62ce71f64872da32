//! Draining container instances, re-validated at apply time: the instance is still ACTIVE, an
//! InService member of the group, not protected from scale-in, its agent connected, it runs no
//! more tasks than the plan counted, and those tasks (the sizes and needs the plan carries) plus
//! the cluster's buffer still fit, first-fit-decreasing, on the room of the other ACTIVE
//! instances that can take tasks (the plan's other drains excluded): CPU and memory, and
//! host ports, GPUs and `memberOf` on the live instances ([`Needs::met_by`], the planner's own
//! check), and ENIs: an instance's `awsvpc` tasks are those the plan saw on it
//! ([`EniUse`]) plus every task it has beyond those it had then (the re-read does not list
//! them: any may be `awsvpc`), all its tasks for an instance the plan did not see; otherwise the
//! drain is `stale`. A drain that passes, of an instance with tasks, then reads their scale-in
//! protection (ListTasks, GetTaskProtection): an instance with a task protected now is not
//! drained (`stale`, its room given back), since that protection covers service scale-in and
//! deployments, not a DRAINING instance.
//!
//! Each drain is recorded first, with the [`DRAINED_AT_ATTRIBUTE`] ECS attribute
//! (PutAttributes, `targetId` the container instance id, 10 per call): the planner treats a
//! DRAINING instance as its own only when it carries it, so a drain that is not recorded is
//! not made. Then UpdateContainerInstancesState DRAINING with full ARNs, 10 per call (the
//! original passed the cluster name and silently drained nothing). A drain that then fails has
//! its record removed again (best effort).

use std::collections::{BTreeMap, HashMap, HashSet};

use aws_sdk_ecs::types::{Attribute, ContainerInstanceStatus, TargetType};
use shared::aws::read;
use shared::messages::{DrainTarget, EniUse};
use shared::placement::{Needs, Offer};
use shared::resources::Resources;
use shared::state::{ContainerInstance, GroupState, InstanceStatus, DRAINED_AT_ATTRIBUTE};

use super::{check_instance, set_live_status, update_instances_state, Verdict};
use crate::errors::{classify, CallError};
use crate::run::{ApplyError, Run};

/// `kind` in the report.
pub const KIND: &str = "drain";

/// PutAttributes and DeleteAttributes take at most this many attributes.
pub(crate) const ATTRIBUTES_PER_CALL: usize = 10;

/// DRAINING by this system → already applied; DRAINING by someone else → stale; ACTIVE → the
/// re-validation of the module docs, then apply, unless an earlier action of the plan was stale
/// or failed (the planner's packing assumed it) → skipped; gone, moved or other → stale. On
/// approval the tasks' places are taken from `room`.
pub fn guard(
    target: &DrainTarget,
    live: Option<&ContainerInstance>,
    group: Option<&GroupState>,
    earlier_problem: bool,
    room: &mut Room,
) -> Verdict {
    let live = match check_instance(&target.instance, live) {
        Ok(live) => live,
        Err(verdict) => return verdict,
    };
    match &live.status {
        InstanceStatus::Draining if live.drained_by_us() => {
            return Verdict::AlreadyApplied("container instance is already DRAINING".into())
        }
        InstanceStatus::Draining => {
            return Verdict::Stale(
                "container instance is DRAINING by someone else (no ecs-autoscale drain record)"
                    .into(),
            )
        }
        InstanceStatus::Active if earlier_problem => {
            return Verdict::Skip(
                "an earlier action of this plan was stale or failed; the packing this drain \
                 relies on may not hold"
                    .into(),
            )
        }
        InstanceStatus::Active => {}
        other @ InstanceStatus::Other(_) => {
            return Verdict::Stale(format!("container instance is {other}"))
        }
    }
    let Some(group) = group else {
        return Verdict::Stale("the Auto Scaling group does not exist".into());
    };
    let Some(member) = group.instance(&live.ec2_instance_id) else {
        return Verdict::Stale(format!(
            "{} is no longer in the group",
            live.ec2_instance_id
        ));
    };
    if !member.in_service() {
        return Verdict::Stale(format!(
            "{} is {}, not InService",
            live.ec2_instance_id, member.lifecycle_state
        ));
    }
    if member.protected_from_scale_in {
        return Verdict::Stale("the instance is protected from scale-in".into());
    }
    if !live.agent_connected {
        return Verdict::Stale("its ECS agent is disconnected".into());
    }
    let tasks = live.running_tasks.saturating_add(live.pending_tasks);
    if tasks > target.tasks {
        return Verdict::Stale(format!(
            "it runs {tasks} task(s), the plan counted {}",
            target.tasks
        ));
    }
    if let Err(why) = room.take(&target.task_sizes, &target.task_needs) {
        return Verdict::Stale(format!("its tasks no longer fit elsewhere: {why}"));
    }
    Verdict::Apply(format!(
        "set container instance {} from ACTIVE to DRAINING",
        target.instance.container_instance_arn
    ))
}

/// Where the plan's drains may move tasks: the remaining resources, ports, GPUs and attributes
/// of the cluster's ACTIVE container instances that can take tasks (an InService member of the
/// group, agent connected), the plan's drained instances excluded, and the buffer that must
/// stay free.
#[derive(Debug, Clone, PartialEq)]
pub struct Room {
    /// Free resources and what else each instance offers, in ARN order (first fit goes in
    /// that order).
    free: Vec<(Resources, Offer)>,
    buffer: Resources,
}

impl Room {
    /// The room of `live` for the drains of `targets`; `eni_use`, the `awsvpc` tasks the plan
    /// saw on the instances.
    pub fn new(
        live: &HashMap<String, ContainerInstance>,
        group: Option<&GroupState>,
        targets: &[DrainTarget],
        eni_use: &BTreeMap<String, EniUse>,
        buffer: Resources,
    ) -> Room {
        let drained: HashSet<&str> = targets
            .iter()
            .map(|t| t.instance.container_instance_arn.as_str())
            .collect();
        let takes_tasks = |ci: &ContainerInstance| {
            ci.status == InstanceStatus::Active
                && ci.agent_connected
                && !drained.contains(ci.arn.as_str())
                && group
                    .and_then(|g| g.instance(&ci.ec2_instance_id))
                    .is_some_and(|m| m.in_service())
        };
        let mut instances: Vec<&ContainerInstance> =
            live.values().filter(|ci| takes_tasks(ci)).collect();
        instances.sort_by(|a, b| a.arn.cmp(&b.arn));
        Room {
            free: instances
                .iter()
                .map(|ci| {
                    let tasks = ci.running_tasks.saturating_add(ci.pending_tasks);
                    let offer = Offer::of(ci);
                    let offer = match eni_use.get(&ci.arn) {
                        Some(seen) => Offer {
                            eni_tasks: seen
                                .awsvpc_tasks
                                .saturating_add(tasks.saturating_sub(seen.tasks)),
                            eni_limit: seen.limit,
                            ..offer
                        },
                        None => Offer {
                            eni_tasks: tasks,
                            ..offer
                        },
                    };
                    (ci.remaining, offer)
                })
                .collect(),
            buffer,
        }
    }

    /// Places the tasks of `sizes` (with `needs`, the same order; empty: CPU and memory only)
    /// first-fit-decreasing (largest share of the total room first) where their needs are met,
    /// and checks that the buffer still fits somewhere; takes the places on success, leaves the
    /// room unchanged otherwise.
    pub fn take(&mut self, sizes: &[Resources], needs: &[Needs]) -> Result<(), String> {
        const PLAIN: &Needs = &Needs {
            ports: Vec::new(),
            gpus: 0,
            member_of: Vec::new(),
            eni: false,
            not_understood: None,
        };
        let total = self
            .free
            .iter()
            .fold(Resources::ZERO, |a, (r, _)| a.saturating_add(*r));
        let share = |r: &Resources| {
            f64::from(r.cpu) / f64::from(total.cpu.max(1))
                + f64::from(r.memory) / f64::from(total.memory.max(1))
        };
        let mut order: Vec<(Resources, &Needs)> = sizes
            .iter()
            .enumerate()
            .map(|(i, size)| (*size, needs.get(i).unwrap_or(PLAIN)))
            .collect();
        order.sort_by(|a, b| share(&b.0).total_cmp(&share(&a.0)));
        let mut free = self.free.clone();
        for (size, needs) in order {
            let Some((slot, offer)) = free
                .iter_mut()
                .find(|(f, offer)| f.fits(size) && needs.met_by(offer, None))
            else {
                return Err(format!(
                    "a task of {size}{} fits on none of the {} other instance(s)",
                    described(needs),
                    free.len()
                ));
            };
            *slot = slot.saturating_sub(size);
            needs.take_from(offer);
        }
        if !self.buffer.is_zero() && !free.iter().any(|(f, _)| f.fits(self.buffer)) {
            return Err(format!("the buffer of {} would no longer fit", self.buffer));
        }
        self.free = free;
        Ok(())
    }
}

/// What a task needs besides CPU and memory, for a refusal (empty when nothing).
fn described(needs: &Needs) -> String {
    let mut parts: Vec<String> = needs
        .ports
        .iter()
        .map(|p| format!("host port {p}"))
        .collect();
    if needs.gpus > 0 {
        parts.push(format!("{} GPU(s)", needs.gpus));
    }
    if needs.eni {
        parts.push("an ENI".into());
    }
    parts.extend(
        needs
            .member_of
            .iter()
            .map(|m| format!("memberOf `{}`", m.text)),
    );
    if parts.is_empty() {
        String::new()
    } else {
        format!(" with {}", parts.join(", "))
    }
}

/// Settles each guard, records the approved drains, drains them 10 per call.
pub async fn run(run: &mut Run<'_>, targets: &[DrainTarget]) -> Result<(), ApplyError> {
    if targets.is_empty() {
        return Ok(());
    }
    let earlier_problem = run.earlier_problem();
    let (live, group) = match (&run.live.instances, &run.live.group) {
        (Ok(live), Ok(group)) => (live.clone(), group.clone()),
        (Err(e), _) | (_, Err(e)) => {
            let e = e.clone();
            for t in targets {
                run.failed(
                    KIND,
                    &t.instance.ec2_instance_id,
                    "read the container instances and the group",
                    e.clone(),
                )?;
            }
            return Ok(());
        }
    };
    let mut room = Room::new(
        &live,
        group.as_ref(),
        targets,
        &run.plan.actions.drain_eni_use,
        run.buffer,
    );
    let mut approved = Vec::new();
    for t in targets {
        let live_ci = live.get(&t.instance.container_instance_arn);
        let busy = live_ci.is_some_and(ContainerInstance::has_tasks);
        let room_before = busy.then(|| room.clone());
        let mut verdict = guard(t, live_ci, group.as_ref(), earlier_problem, &mut room);
        // Only a drain the guard approves reads its tasks' protection (two calls and more).
        let approved_now = matches!(verdict, Verdict::Apply(_));
        if let (true, Some(before)) = (approved_now, room_before) {
            match protected_now(run, t).await {
                Ok(0) => {}
                Ok(n) => {
                    room = before;
                    verdict = Verdict::Stale(format!(
                        "{n} task(s) on it protected from scale-in since the plan was made"
                    ));
                }
                Err(e) => {
                    room = before;
                    run.failed(
                        KIND,
                        &t.instance.ec2_instance_id,
                        "read its tasks' scale-in protection",
                        e,
                    )?;
                    continue;
                }
            }
        }
        // A dry run still counts the drain in the live view, so that what comes after it (the
        // termination of an empty instance drained in the same plan) reads as a real run would.
        let would_apply = matches!(verdict, Verdict::Apply(_));
        if let Some(what) = run.settle(KIND, &t.instance.ec2_instance_id, verdict) {
            approved.push((t, what));
        } else if would_apply && run.dry_run {
            drained_in_live_view(run, &t.instance.container_instance_arn);
        }
    }
    if approved.is_empty() {
        return Ok(());
    }

    let value = run.now_secs.to_string();
    let mut recorded = Vec::new();
    for chunk in approved.chunks(ATTRIBUTES_PER_CALL) {
        let ids: Vec<&str> = chunk
            .iter()
            .map(|(t, _)| shared::state::container_instance_id(&t.instance.container_instance_arn))
            .collect();
        match put_attributes(run, &ids, &value).await? {
            Ok(()) => recorded.extend(chunk.iter().map(|(t, what)| (&t.instance, what.clone()))),
            Err(e) => {
                for (t, _) in chunk {
                    run.failed(
                        KIND,
                        &t.instance.ec2_instance_id,
                        "record the drain",
                        e.clone(),
                    )?;
                }
            }
        }
    }
    if recorded.is_empty() {
        return Ok(());
    }
    let results =
        update_instances_state(run, KIND, recorded, ContainerInstanceStatus::Draining).await?;
    for (target, result) in results {
        match result {
            Ok(what) => {
                drained_in_live_view(run, &target.container_instance_arn);
                run.applied(
                    KIND,
                    &target.ec2_instance_id,
                    format!("{what}; recorded {DRAINED_AT_ATTRIBUTE}={value}"),
                );
            }
            Err(e) => {
                let id = shared::state::container_instance_id(&target.container_instance_arn);
                if let Err(err) = delete_attributes(run, KIND, &[id]).await? {
                    tracing::warn!(arn = %target.container_instance_arn, error = %err,
                        "could not remove the drain record of an instance that was not drained");
                }
                run.failed(KIND, &target.ec2_instance_id, "set it DRAINING", e)?;
            }
        }
    }
    Ok(())
}

/// How many tasks on `target`'s instance are protected from scale-in now (ListTasks on the
/// instance, GetTaskProtection 10 at a time): the plan read protection up to a cycle ago, and
/// for its first drain candidates only.
async fn protected_now(run: &Run<'_>, target: &DrainTarget) -> Result<usize, CallError> {
    let (ecs, cluster) = (&run.clients.ecs, run.plan.cluster.as_str());
    let filter = read::TaskFilter {
        container_instance: Some(&target.instance.container_instance_arn),
        ..Default::default()
    };
    let tasks = read::list_tasks(ecs, cluster, filter)
        .await
        .map_err(|e| classify("ListTasks", &e))?;
    let until = read::task_protection(ecs, cluster, &tasks)
        .await
        .map_err(|e| classify("GetTaskProtection", &e))?;
    Ok(until.values().filter(|&&u| u > run.now_secs).count())
}

/// The instance is DRAINING by this system now, in the run's live view.
fn drained_in_live_view(run: &mut Run<'_>, arn: &str) {
    set_live_status(run, arn, InstanceStatus::Draining);
    let now = run.now_secs;
    if let Ok(live) = &mut run.live.instances {
        if let Some(ci) = live.get_mut(arn) {
            ci.draining_since_epoch_secs = Some(now);
        }
    }
}

/// The drain record on the container instances `ids` (one PutAttributes). A retryable error
/// ends the run; any other is returned.
async fn put_attributes(
    run: &mut Run<'_>,
    ids: &[&str],
    value: &str,
) -> Result<Result<(), CallError>, ApplyError> {
    put_attribute(run, KIND, DRAINED_AT_ATTRIBUTE, ids, value).await
}

/// The attribute `name` = `value` on the container instances `ids` (at most
/// [`ATTRIBUTES_PER_CALL`], one PutAttributes). A retryable error ends the run; any other is
/// returned.
pub(crate) async fn put_attribute(
    run: &mut Run<'_>,
    kind: &'static str,
    name: &str,
    ids: &[&str],
    value: &str,
) -> Result<Result<(), CallError>, ApplyError> {
    const OP: &str = "PutAttributes";
    let attributes = match ids
        .iter()
        .map(|id| attribute(name, id, Some(value)))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(a) => a,
        Err(e) => return Ok(Err(e)),
    };
    run.begin_mutation()?;
    let answer = run
        .clients
        .ecs
        .put_attributes()
        .cluster(&run.plan.cluster)
        .set_attributes(Some(attributes))
        .send()
        .await;
    match answer {
        Ok(_) => Ok(Ok(())),
        Err(e) => {
            let err = classify(OP, &e);
            if err.is_retryable() {
                return Err(run.retry(kind, err));
            }
            Ok(Err(err))
        }
    }
}

/// Removes the drain record from the container instances `ids`, 10 per DeleteAttributes call
/// (name and target only: AWS asks not to give the value of a custom attribute). A retryable
/// error ends the run; any other is returned.
pub(crate) async fn delete_attributes(
    run: &mut Run<'_>,
    kind: &'static str,
    ids: &[&str],
) -> Result<Result<(), CallError>, ApplyError> {
    const OP: &str = "DeleteAttributes";
    for chunk in ids.chunks(ATTRIBUTES_PER_CALL) {
        let attributes = match chunk
            .iter()
            .map(|id| attribute(DRAINED_AT_ATTRIBUTE, id, None))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        };
        run.begin_mutation()?;
        let answer = run
            .clients
            .ecs
            .delete_attributes()
            .cluster(&run.plan.cluster)
            .set_attributes(Some(attributes))
            .send()
            .await;
        if let Err(e) = answer {
            let err = classify(OP, &e);
            if err.is_retryable() {
                return Err(run.retry(kind, err));
            }
            return Ok(Err(err));
        }
    }
    Ok(Ok(()))
}

/// The attribute `name` of one container instance (by id, as the API takes it with
/// `targetType` `container-instance`); with its value to put it, without to delete it.
fn attribute(name: &str, id: &str, value: Option<&str>) -> Result<Attribute, CallError> {
    Attribute::builder()
        .name(name)
        .set_value(value.map(str::to_owned))
        .target_type(TargetType::ContainerInstance)
        .target_id(id)
        .build()
        .map_err(|e| CallError::invalid_answer("PutAttributes", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::fixtures;
    use shared::messages::InstanceRef;

    const TASK: Resources = Resources::new(1024, 1536);

    fn target(tasks: u32) -> DrainTarget {
        DrainTarget {
            instance: InstanceRef {
                container_instance_arn: "arn:ci/1".into(),
                ec2_instance_id: "i-1".into(),
            },
            tasks,
            task_sizes: vec![TASK; tasks as usize],
            task_needs: Vec::new(),
        }
    }

    fn instance(status: &str, running: u32) -> ContainerInstance {
        fixtures::instance("i-1", status, running, 0)
    }

    fn group(lifecycle: &str) -> GroupState {
        fixtures::group(0, 10, 2, &[("i-1", lifecycle), ("i-2", "InService")])
    }

    /// Room for `slots` tasks of [`TASK`] on one other instance.
    fn room(slots: u32, buffer: Resources) -> Room {
        let mut other = fixtures::instance("i-2", "ACTIVE", 0, 0);
        other.arn = "arn:ci/2".into();
        other.remaining = Resources::new(TASK.cpu * slots, TASK.memory * slots);
        let live = HashMap::from([(other.arn.clone(), other)]);
        Room::new(
            &live,
            Some(&group("InService")),
            &[target(0)],
            &BTreeMap::new(),
            buffer,
        )
    }

    fn verdict(t: &DrainTarget, live: &ContainerInstance, g: &GroupState, slots: u32) -> Verdict {
        guard(
            t,
            Some(live),
            Some(g),
            false,
            &mut room(slots, Resources::ZERO),
        )
    }

    #[test]
    fn guard_drains_active_instances_unless_the_plan_went_wrong() {
        let t = target(2);
        let g = group("InService");
        let mut room = room(4, Resources::ZERO);
        assert!(matches!(
            guard(&t, Some(&instance("ACTIVE", 2)), Some(&g), false, &mut room),
            Verdict::Apply(_)
        ));
        assert!(matches!(
            guard(&t, Some(&instance("ACTIVE", 2)), Some(&g), true, &mut room),
            Verdict::Skip(_)
        ));
        let mut ours = instance("DRAINING", 2);
        ours.draining_since_epoch_secs = Some(1);
        assert!(matches!(
            verdict(&t, &ours, &g, 4),
            Verdict::AlreadyApplied(_)
        ));
        assert!(matches!(
            verdict(&t, &instance("DRAINING", 2), &g, 4),
            Verdict::Stale(why) if why.contains("someone else")
        ));
        assert!(matches!(
            verdict(&t, &instance("INACTIVE", 0), &g, 4),
            Verdict::Stale(_)
        ));
        assert!(matches!(
            guard(&t, None, Some(&g), false, &mut room),
            Verdict::Stale(_)
        ));
    }

    #[test]
    fn guard_revalidates_the_instance_at_apply_time() {
        let t = target(2);
        let active = instance("ACTIVE", 2);
        let stale = |v: Verdict, what: &str| {
            assert!(
                matches!(&v, Verdict::Stale(why) if why.contains(what)),
                "{what}: {v:?}"
            )
        };
        stale(
            verdict(&t, &active, &group("Terminating:Wait"), 4),
            "not InService",
        );
        stale(
            verdict(
                &t,
                &active,
                &fixtures::group(0, 10, 1, &[("i-2", "InService")]),
                4,
            ),
            "no longer in the group",
        );
        let mut protected = group("InService");
        protected.instances[0].protected_from_scale_in = true;
        stale(verdict(&t, &active, &protected, 4), "protected");
        let mut cut_off = active.clone();
        cut_off.agent_connected = false;
        stale(
            verdict(&t, &cut_off, &group("InService"), 4),
            "disconnected",
        );
        stale(
            verdict(&t, &instance("ACTIVE", 3), &group("InService"), 4),
            "runs 3 task(s), the plan counted 2",
        );
        stale(
            verdict(&t, &active, &group("InService"), 1),
            "no longer fit elsewhere",
        );
        // Fewer tasks than counted: the counted sizes still fit.
        assert!(matches!(
            verdict(&t, &instance("ACTIVE", 1), &group("InService"), 2),
            Verdict::Apply(_)
        ));
    }

    #[test]
    fn room_is_first_fit_decreasing_shared_by_the_plans_drains_and_keeps_the_buffer() {
        let mut r = room(3, Resources::ZERO);
        assert!(r.take(&[TASK, TASK], &[]).is_ok());
        // The first drain took two of the three places.
        assert!(r.take(&[TASK, TASK], &[]).is_err());
        assert!(r.take(&[TASK], &[]).is_ok());
        assert!(r.take(&[TASK], &[]).is_err());

        // Two places, and a buffer of one task: one task may move, not two.
        let mut r = room(2, TASK);
        let before = r.clone();
        let err = r.take(&[TASK, TASK], &[]).expect_err("the buffer");
        assert!(err.contains("buffer"), "{err}");
        assert_eq!(r, before, "a refused drain takes no room");
        assert!(r.take(&[TASK], &[]).is_ok());
    }

    #[test]
    fn room_honours_host_ports_gpus_and_member_of_on_the_live_instances() {
        use shared::placement::MemberOf;
        use shared::state::HostPort;
        // Two other instances, room for two tasks each by size; `b` binds 80/tcp already and
        // has one free GPU; only `a` is in zone a.
        let g = fixtures::group(0, 10, 2, &[("i-a", "InService"), ("i-b", "InService")]);
        let mut live = HashMap::new();
        for (ec2, zone, gpus, port) in [("i-a", "a", 0, None), ("i-b", "b", 1, Some(80))] {
            let mut ci = fixtures::instance(ec2, "ACTIVE", 0, 0);
            ci.arn = format!("arn:ci/{ec2}");
            ci.remaining = Resources::new(TASK.cpu * 2, TASK.memory * 2);
            ci.placement.gpus_free = gpus;
            ci.placement.ports_in_use.extend(port.map(HostPort::tcp));
            ci.placement
                .attributes
                .insert("ecs.availability-zone".into(), zone.into());
            live.insert(ci.arn.clone(), ci);
        }
        let room = Room::new(&live, Some(&g), &[], &BTreeMap::new(), Resources::ZERO);
        let port_80 = Needs {
            ports: vec![HostPort::tcp(80)],
            ..Needs::default()
        };
        let gpu = Needs {
            gpus: 1,
            ..Needs::default()
        };
        let zone_b = Needs {
            member_of: vec![
                MemberOf::parse("attribute:ecs.availability-zone == b").expect("parses")
            ],
            ..Needs::default()
        };

        // By CPU and memory alone, three tasks of each kind fit; by their needs, not.
        for (needs, what) in [
            (&port_80, "host port 80/tcp"),
            (&gpu, "1 GPU(s)"),
            (&zone_b, "memberOf"),
        ] {
            let mut r = room.clone();
            assert!(r.take(&[TASK; 3], &[]).is_ok());
            let mut r = room.clone();
            let err = r.take(&[TASK; 3], &vec![needs.clone(); 3]).expect_err(what);
            assert!(err.contains(what), "{err}");
            assert_eq!(r, room, "a refused drain takes no room");
            assert!(
                r.take(&[TASK], std::slice::from_ref(needs)).is_ok(),
                "{what}"
            );
        }
        // One port-80 task fits (on `a`); it then takes `a`'s port: a second drain's does not.
        let mut r = room.clone();
        assert!(r.take(&[TASK], std::slice::from_ref(&port_80)).is_ok());
        assert!(r.take(&[TASK], std::slice::from_ref(&port_80)).is_err());
    }

    #[test]
    fn room_counts_the_enis_the_plan_saw_and_every_task_started_since() {
        // One other instance, an m5.large (two `awsvpc` tasks without trunking), room for four
        // tasks by size; it runs two tasks, one of them `awsvpc` when the plan was made.
        let g = fixtures::group(0, 10, 1, &[("i-a", "InService")]);
        let arn = "arn:ci/i-a".to_owned();
        let mut ci = fixtures::instance("i-a", "ACTIVE", 2, 0);
        ci.arn = arn.clone();
        ci.remaining = Resources::new(TASK.cpu * 4, TASK.memory * 4);
        ci.placement
            .attributes
            .insert("ecs.instance-type".into(), "m5.large".into());
        let mut live = HashMap::from([(arn.clone(), ci)]);
        let eni = Needs {
            eni: true,
            ..Needs::default()
        };
        let seen = |awsvpc_tasks, limit| {
            BTreeMap::from([(
                arn.clone(),
                EniUse {
                    awsvpc_tasks,
                    tasks: 2,
                    limit,
                },
            )])
        };
        let room = |live: &HashMap<String, ContainerInstance>, seen: &BTreeMap<String, EniUse>| {
            Room::new(live, Some(&g), &[], seen, Resources::ZERO)
        };

        // One ENI left: one `awsvpc` task may move there, not two; plain tasks need none.
        let r = room(&live, &seen(1, Some(2)));
        assert!(r.clone().take(&[TASK], std::slice::from_ref(&eni)).is_ok());
        let err = r
            .clone()
            .take(&[TASK; 2], &vec![eni.clone(); 2])
            .expect_err("one ENI left");
        assert!(err.contains("an ENI"), "{err}");
        assert!(r.clone().take(&[TASK; 3], &[]).is_ok());
        // `max_tasks_per_instance`, carried as the limit, allows more.
        assert!(room(&live, &seen(1, Some(10)))
            .take(&[TASK; 2], &vec![eni.clone(); 2])
            .is_ok());

        // A task started there since the plan may hold the last ENI.
        if let Some(ci) = live.get_mut(&arn) {
            ci.running_tasks = 3;
        }
        let err = room(&live, &seen(1, Some(2)))
            .take(&[TASK], std::slice::from_ref(&eni))
            .expect_err("no ENI left");
        assert!(err.contains("an ENI"), "{err}");
        // An instance the plan did not see: each of its tasks may hold an ENI (its type's limit).
        assert!(room(&live, &BTreeMap::new())
            .take(&[TASK], std::slice::from_ref(&eni))
            .is_err());
    }

    #[test]
    fn room_counts_only_active_inservice_connected_instances_not_drained_by_the_plan() {
        let g = fixtures::group(
            0,
            10,
            4,
            &[
                ("i-a", "InService"),
                ("i-b", "Standby"),
                ("i-c", "InService"),
                ("i-d", "InService"),
            ],
        );
        let mut live = HashMap::new();
        for (ec2, status, connected) in [
            ("i-a", "ACTIVE", true),
            ("i-b", "ACTIVE", true),
            ("i-c", "ACTIVE", false),
            ("i-d", "DRAINING", true),
            ("i-e", "ACTIVE", true),
        ] {
            let mut ci = fixtures::instance(ec2, status, 0, 0);
            ci.arn = format!("arn:ci/{ec2}");
            ci.agent_connected = connected;
            live.insert(ci.arn.clone(), ci);
        }
        let r = Room::new(&live, Some(&g), &[], &BTreeMap::new(), Resources::ZERO);
        assert_eq!(r.free.len(), 1, "only i-a: {r:?}");
        let drained_a = DrainTarget::from(InstanceRef {
            container_instance_arn: "arn:ci/i-a".into(),
            ec2_instance_id: "i-a".into(),
        });
        let r = Room::new(
            &live,
            Some(&g),
            &[drained_a],
            &BTreeMap::new(),
            Resources::ZERO,
        );
        assert!(r.free.is_empty());
    }
}
