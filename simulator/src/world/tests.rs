//! The world plays ECS and Auto Scaling as documented: placement strategies and constraints,
//! boot and start delays, drains that replace tasks before stopping them, Auto Scaling's
//! refusals and its own terminations.

use std::path::Path;

use shared::resources::Resources;

use super::*;
use crate::world_file::WorldFile;

const T0: u64 = 1_800_000_000;

fn world(yaml_services: &str, desired: u32) -> World {
    let text = format!(
        "step_secs: 60
instance: {{cpu: 4096, memory: 8192}}
instance_boot_secs: 180
task_start_secs: 30
drain_secs: 60
group: {{min: 0, max: 10, desired: {desired}}}
services:
{yaml_services}"
    );
    let file = WorldFile::parse(Path::new("w.yml"), &text).expect("a world");
    World::new("c", "g", &file, T0)
}

/// Tasks of service `s` per instance, in instance order.
fn spread_of(w: &World, s: usize) -> Vec<usize> {
    w.instances
        .iter()
        .map(|i| i.tasks.iter().filter(|t| t.service == s).count())
        .collect()
}

#[test]
fn the_start_has_its_instances_registered_and_its_tasks_running() {
    let w = world("  a: {desired: 3, cpu: 1024, memory: 1024}\n", 2);
    assert_eq!(w.instances.len(), 2);
    assert!(w
        .instances
        .iter()
        .all(|i| i.registered && i.status == Status::Active));
    let c = w.task_counts()[0];
    assert_eq!((c.running, c.pending, c.active), (3, 0, 3));
    assert_eq!(
        w.tasks_started, 0,
        "the starting tasks were already running"
    );
}

#[test]
fn binpack_fills_the_fullest_instance_and_spread_evens_out() {
    let w = world("  a: {desired: 5, cpu: 512, memory: 1024}\n", 3);
    assert_eq!(spread_of(&w, 0), [5, 0, 0], "binpack on memory");
    let w = world(
        "  a: {desired: 5, cpu: 512, memory: 1024, placement: spread}\n",
        3,
    );
    assert_eq!(spread_of(&w, 0), [2, 2, 1]);
}

#[test]
fn placement_respects_room_and_distinct_instance() {
    // 4096 CPU per instance: three 1536-CPU tasks need two instances, the fourth fits nowhere.
    let w = world("  a: {desired: 5, cpu: 1536, memory: 1024}\n", 2);
    assert_eq!(spread_of(&w, 0), [2, 2]);
    let c = w.task_counts()[0];
    assert_eq!(c.active, 4, "one task waits for room");
    let w = world(
        "  a: {desired: 3, cpu: 256, memory: 256, distinct_instance: true}\n",
        2,
    );
    assert_eq!(spread_of(&w, 0), [1, 1], "one per instance");
    assert_eq!(w.instances[0].free, Resources::new(4096 - 256, 8192 - 256));
}

#[test]
fn instances_boot_register_and_then_take_tasks_that_start_later() {
    let mut w = world("  a: {desired: 0, cpu: 4096, memory: 1024}\n", 0);
    w.set_desired(1).expect("within limits");
    assert_eq!(w.instances.len(), 1);
    assert!(!w.instances[0].registered, "booting");
    w.services[0].desired = 1;
    w.advance_to(T0 + 179);
    assert_eq!(w.task_counts()[0].active, 0, "nowhere to place it yet");
    w.advance_to(T0 + 240);
    // Registered at 180, placed at once, RUNNING at 210.
    let c = w.task_counts()[0];
    assert_eq!((c.running, c.pending), (1, 0));
    assert_eq!(w.tasks_started, 1);
    assert_eq!(w.last_task_start, Some(T0 + 210));
}

#[test]
fn a_drain_replaces_tasks_before_stopping_them() {
    let mut w = world("  a: {desired: 2, cpu: 1024, memory: 1024}\n", 2);
    assert_eq!(spread_of(&w, 0), [2, 0]);
    let arn = w.instances[0].arn.clone();
    w.drain(&arn, T0).expect("registered");
    assert_eq!(w.instances[0].drained_at, Some(T0));
    // Replacements placed on the other instance at once; the old tasks keep running.
    assert_eq!(spread_of(&w, 0), [2, 2]);
    w.advance_to(T0 + 29);
    assert_eq!(w.task_counts()[0].running, 2);
    w.advance_to(T0 + 45);
    assert_eq!(
        spread_of(&w, 0),
        [2, 2],
        "replacements run, but drain_secs have not passed"
    );
    w.advance_to(T0 + 60);
    assert_eq!(spread_of(&w, 0), [0, 2]);
    assert_eq!(w.tasks_moved, 2);
    assert_eq!(w.instances[0].free, Resources::new(4096, 8192));
}

#[test]
fn an_aborted_drain_is_recorded_and_takes_tasks_again() {
    let mut w = world("  a: {desired: 2, cpu: 2048, memory: 1024}\n", 1);
    let arn = w.instances[0].arn.clone();
    w.drain(&arn, T0).expect("registered");
    w.advance_to(T0 + 600);
    assert_eq!(w.task_counts()[0].running, 2, "nowhere to go: they stay");
    w.abort_drain(&arn, T0 + 600).expect("registered");
    let i = &w.instances[0];
    assert!(!i.draining());
    assert_eq!((i.drained_at, i.drain_aborted_at), (None, Some(T0 + 600)));
    assert_eq!(w.tasks_moved, 0);
}

#[test]
fn a_forced_drain_stops_the_tasks_which_start_again_elsewhere_if_they_can() {
    let mut w = world("  a: {desired: 2, cpu: 2048, memory: 1024}\n", 1);
    let arn = w.instances[0].arn.clone();
    assert!(w.force_drain(&arn).is_err(), "only a DRAINING instance");
    w.drain(&arn, T0).expect("registered");
    w.advance_to(T0 + 600);
    w.force_drain(&arn).expect("draining");
    assert!(w.instances[0].tasks.is_empty());
    assert_eq!(w.instances[0].free, Resources::new(4096, 8192));
    assert_eq!(w.tasks_moved, 2);
    assert_eq!(w.task_counts()[0].active, 0, "no ACTIVE instance to go to");
}

#[test]
fn a_drain_without_room_elsewhere_keeps_the_tasks_running() {
    let mut w = world("  a: {desired: 2, cpu: 2048, memory: 1024}\n", 1);
    let arn = w.instances[0].arn.clone();
    w.drain(&arn, T0).expect("registered");
    w.advance_to(T0 + 600);
    assert_eq!(w.task_counts()[0].running, 2, "nowhere to go: they stay");
    assert_eq!(w.tasks_moved, 0);
    // Room arrives: replacements start, then the old tasks stop.
    w.set_desired(2).expect("within limits");
    w.advance_to(T0 + 600 + 180 + 30);
    assert_eq!(spread_of(&w, 0), [0, 2]);
    assert_eq!(w.tasks_moved, 2);
    // Reactivating takes tasks again.
    w.reactivate(&arn).expect("registered");
    assert_eq!(w.instances[0].drained_at, None);
    w.services[0].desired = 4;
    w.schedule();
    assert_eq!(spread_of(&w, 0), [2, 2]);
}

#[test]
fn scale_in_stops_starting_tasks_first_then_by_strategy() {
    let mut w = world("  a: {desired: 2, cpu: 512, memory: 512}\n", 2);
    w.services[0].desired = 4;
    w.schedule();
    assert_eq!(w.task_counts()[0].pending, 2);
    w.services[0].desired = 3;
    w.schedule();
    let c = w.task_counts()[0];
    assert_eq!((c.running, c.pending), (2, 1), "a starting task went first");
    // Spread: the instance with the most tasks of the service loses one.
    let mut w = world(
        "  a: {desired: 3, cpu: 512, memory: 512, placement: spread}\n",
        2,
    );
    assert_eq!(spread_of(&w, 0), [2, 1]);
    w.services[0].desired = 2;
    w.schedule();
    assert_eq!(spread_of(&w, 0), [1, 1]);
    // Binpack: the emptiest instance's task goes.
    let mut w = world(
        "  a: {desired: 1, cpu: 512, memory: 512}\n  b: {desired: 1, cpu: 512, memory: 4096}\n",
        2,
    );
    w.instances[1].tasks.clear();
    w.instances[1].free = Resources::new(4096, 8192);
    w.services[0].desired = 2;
    w.schedule();
    assert_eq!(spread_of(&w, 0), [2, 0]);
    let moved = w.instances[0]
        .tasks
        .iter()
        .position(|t| t.service == 0)
        .expect("a task");
    let t = w.instances[0].tasks.remove(moved);
    w.instances[0].free = w.instances[0].free.saturating_add(Resources::new(512, 512));
    w.instances[1].tasks.push(t);
    w.instances[1].free = w.instances[1].free.saturating_sub(Resources::new(512, 512));
    w.advance_to(T0 + 60);
    w.services[0].desired = 1;
    w.schedule();
    assert_eq!(
        spread_of(&w, 0),
        [1, 0],
        "the task on the emptier instance stopped"
    );
}

#[test]
fn auto_scaling_refuses_what_aws_refuses_and_its_own_terminations_are_violations() {
    let mut w = world("  a: {desired: 1, cpu: 512, memory: 512}\n", 2);
    assert!(w.set_desired(11).is_err());
    assert_eq!(
        w.violations.pop(),
        Some(Violation::DesiredOutsideLimits {
            desired: 11,
            min: 0,
            max: 10
        })
    );
    assert!(w.set_limits(3, 2).is_err());
    // The task runs on the first instance; Auto Scaling removes the newest: no harm.
    w.set_desired(1).expect("within limits");
    assert_eq!(w.instances.len(), 1);
    assert!(w.violations.is_empty());
    // A MaxSize of 0 takes the last instance, task and all.
    w.set_limits(0, 0).expect("a valid range");
    assert_eq!(w.instances.len(), 0);
    assert!(matches!(
        w.violations[0],
        Violation::MaxBelowDesired { max: 0, desired: 1 }
    ));
    assert!(matches!(
        w.violations[1],
        Violation::TerminatedWithTasks { tasks: 1, .. }
    ));
}

#[test]
fn terminating_decrements_the_desired_capacity_within_min() {
    let mut w = world("  a: {desired: 0, cpu: 512, memory: 512}\n", 2);
    w.set_limits(1, 10).expect("valid");
    let first = w.instances[0].ec2_id.clone();
    w.terminate(&first).expect("above min");
    assert_eq!((w.group.desired, w.instances.len()), (1, 1));
    let last = w.instances[0].ec2_id.clone();
    assert!(w.terminate(&last).is_err(), "MinSize 1");
    assert!(w.terminate("i-nope").is_err());
    assert!(w.violations.is_empty());
}

#[test]
fn the_planners_view_is_what_ecs_and_auto_scaling_report() {
    let mut w = world("  a: {desired: 2, cpu: 512, memory: 1024}\n", 1);
    w.set_desired(2).expect("within limits");
    w.services[0].desired = 3;
    w.schedule();
    let state = w.cluster_state(|name| name == "a");
    assert_eq!(
        state.instances.len(),
        1,
        "the booting instance is not registered"
    );
    let group = state.group.expect("the group");
    assert_eq!(group.instances.len(), 2);
    assert_eq!(group.instances[1].lifecycle_state, "Pending");
    let ci = &state.instances[0];
    assert_eq!(
        (ci.running_tasks, ci.pending_tasks, ci.tasks.len()),
        (2, 1, 3)
    );
    assert_eq!(
        ci.remaining,
        Resources::new(4096 - 3 * 512, 8192 - 3 * 1024)
    );
    assert_eq!(ci.tasks[0].service.as_deref(), Some("a"));
    let s = &state.services[0];
    assert_eq!((s.desired, s.running, s.pending), (3, 2, 1));
    assert!(w.cluster_state(|_| false).services.is_empty());
}
