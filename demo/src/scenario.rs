//! The demo's scenario: the README's `my_cluster` under a load that rises and falls.
//!
//! - **World**: services `worker` and `backend` (1 task each, 1536 CPU / 2560 MiB: two fit on an
//!   instance), an Auto Scaling group of 2 instances (min 1, max 4) registered as container
//!   instances. The cluster file is the README's, in a temporary directory, with the worker's
//!   source pointing at the local RabbitMQ (credentials through `%(RABBITMQ_USER)` and
//!   `%(RABBITMQ_PASS)`) and `scale_down_cooldown: 0` (the demo compresses time: cycles come
//!   seconds apart, not minutes).
//! - **Load** ([`schedule`]): the `celery` queue fills to a few hundred messages and drains; the
//!   backend's CPUUtilization rises to 80 % and falls. Each cycle's collector clock is five
//!   minutes after the previous one (ahead of the real clock), so each cycle reads its own
//!   CloudWatch period, a new datapoint the backend's events act on once.
//! - **Each cycle**: the pipeline ([`ecs_autoscale_cli::pipeline::Pipeline::cycle`]), then the
//!   scheduler helper places and stops tasks, new group instances register as container
//!   instances and terminated ones leave, and the cycle's state is sampled.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use anyhow::{Context, Result};
use ecs_autoscale_cli::aws::{clients_for, Access};
use ecs_autoscale_cli::pipeline::{Pipeline, PipelineConfig};
use ecs_autoscale_cli::render;
use ecs_autoscale_cli::subscription::{Event, Subscription};
use shared::messages::Outcome;
use shared::time::Timestamp;
use testbed::strict::StrictAws;
use testbed::{messaging, scheduler, world, Clients, Moto};

use crate::{chart, stack};
use testbed::RabbitMq;

/// The README's cluster.
pub const CLUSTER: &str = "my_cluster";
/// Its Auto Scaling group (the file's `autoscale_group`).
pub const GROUP: &str = "EC2ContainerService-my_cluster-EcsInstanceAsg-AAAAA";
/// The worker's RabbitMQ queue.
pub const QUEUE: &str = "celery";
/// Task size of both services: two fit on an emulated instance (4096 CPU / 7482 MiB).
pub const TASK_CPU: i32 = 1536;
/// See [`TASK_CPU`].
pub const TASK_MEMORY: i32 = 2560;
/// The CloudWatch period of the cluster file's backend source.
const PERIOD_SECS: u64 = 300;
/// The fewest cycles that show scale-out, scale-in, drain and termination.
pub const MIN_CYCLES: u32 = 6;

/// How to run the demo.
#[derive(Debug, Clone)]
pub struct Options {
    /// Pipeline cycles (at least [`MIN_CYCLES`]).
    pub cycles: u32,
    /// Pause after each cycle, to follow along.
    pub pause: Duration,
    /// Where the chart goes.
    pub out_dir: PathBuf,
}

/// The state after a cycle (cycle 0: before the first).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Cycle number.
    pub cycle: u32,
    /// Messages in the `celery` queue.
    pub queue: u64,
    /// The backend's CPU (%).
    pub cpu: f64,
    /// Per service (sorted): name, desired, running.
    pub services: Vec<(String, u32, u32)>,
    /// The group's desired capacity.
    pub group_desired: u32,
    /// Its instances in service.
    pub in_service: u32,
    /// ACTIVE container instances.
    pub active: u32,
    /// DRAINING container instances.
    pub draining: u32,
    /// The cycle's plans: headlines and actions, and each outcome.
    pub plan_lines: Vec<String>,
    /// Outcomes of the cycle's plans.
    pub outcomes: Vec<Outcome>,
}

impl Sample {
    /// Tasks running, all services.
    pub fn tasks(&self) -> u32 {
        self.services.iter().map(|s| s.2).sum()
    }

    /// Desired tasks, all services.
    pub fn desired_tasks(&self) -> u32 {
        self.services.iter().map(|s| s.1).sum()
    }
}

/// The chart's series from the samples: tasks, instances in service, each service's running
/// tasks (services as in the first sample), and the load (none for cycle 0).
pub fn series(samples: &[Sample]) -> chart::Series {
    let names: Vec<String> = samples
        .first()
        .map(|s| s.services.iter().map(|x| x.0.clone()).collect())
        .unwrap_or_default();
    chart::Series {
        cycles: samples.iter().map(|s| s.cycle).collect(),
        tasks: samples.iter().map(Sample::tasks).collect(),
        instances: samples.iter().map(|s| s.in_service).collect(),
        services: names
            .into_iter()
            .map(|name| {
                let running = samples
                    .iter()
                    .map(|s| s.services.iter().find(|x| x.0 == name).map_or(0, |x| x.2))
                    .collect();
                (name, running)
            })
            .collect(),
        load: samples
            .iter()
            .map(|s| (s.cycle != 0).then_some((s.queue, s.cpu)))
            .collect(),
    }
}

/// What the demo did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Cycle 0 (the start), then one per cycle.
    pub samples: Vec<Sample>,
    /// The chart.
    pub svg: PathBuf,
    /// Wall time of the cycles.
    pub elapsed: Duration,
}

/// The load of each cycle: (messages in the queue, backend CPU %). Two cycles of rising load,
/// a plateau that drains (`cycles - 6` cycles), then four quiet cycles (scale-in, drain,
/// terminate, steady).
pub fn schedule(cycles: u32) -> Vec<(u64, f64)> {
    let mut load = vec![(180, 55.0), (320, 80.0)];
    let middle = cycles.saturating_sub(MIN_CYCLES);
    for i in 0..middle {
        let f = if middle == 1 {
            0.0
        } else {
            f64::from(i) / f64::from(middle - 1)
        };
        load.push((
            (300.0 - 270.0 * f).round() as u64,
            (70.0 - 50.0 * f).round(),
        ));
    }
    load.extend([(2, 0.5), (0, 0.5), (0, 0.5), (0, 0.5)]);
    load
}

/// The cluster file: the README's, with the worker's source on the local RabbitMQ and no
/// scale-down cooldown.
pub fn cluster_file(original: &str, management_port: u16) -> Result<String> {
    let url = "https://username:password@my_rabbitmq_host.com/api/queues/celery";
    anyhow::ensure!(
        original.contains(url),
        "the README's example changed: no `{url}`"
    );
    let local = format!(
        "http://%(RABBITMQ_USER):%(RABBITMQ_PASS)@127.0.0.1:{management_port}/api/queues/%2F/{QUEUE}"
    );
    let text = original.replace(url, &local);
    let min_line = "\n    min: 1";
    anyhow::ensure!(
        text.matches(min_line).count() == 2,
        "the README's example changed: expected two services with `min: 1`"
    );
    Ok(text.replace(
        min_line,
        "\n    scale_down_cooldown: 0  # the demo compresses time (cycles seconds apart)\n    min: 1",
    ))
}

/// Runs the demo, writing its progress to `out`; every process it starts is stopped when it
/// returns (also on an error).
pub async fn run(options: &Options, out: &mut dyn Write) -> Result<Summary> {
    let cycles = options.cycles.max(MIN_CYCLES);
    let load = schedule(cycles);
    let started = Instant::now();

    writeln!(
        out,
        "starting the emulator (moto) and RabbitMQ on 127.0.0.1 ..."
    )?;
    let moto_task = tokio::task::spawn_blocking(Moto::start);
    let rabbit = RabbitMq::start().await.context("starting RabbitMQ")?;
    let moto = moto_task.await.context("starting moto")??;
    moto.keep_tasks_running().await?;
    let endpoint = moto.endpoint().to_owned();
    writeln!(
        out,
        "  moto at {endpoint}, RabbitMQ management at {}",
        rabbit.management_url()
    )?;

    let stack = stack::create(&endpoint, CLUSTER, GROUP).await?;
    writeln!(
        out,
        "created the stack from infra/template.yaml ({} resources): bus `{}`, queues {} and {}",
        stack.resources,
        stack.bus,
        short_queue(&stack.metrics_queue_url),
        short_queue(&stack.plans_queue_url)
    )?;

    let config = testbed::sdk_config(&endpoint).await;
    let harness = Clients::new(&config);
    seed(&harness).await?;
    rabbit.declare_queue(QUEUE).await?;

    let dir = std::env::temp_dir().join(format!("ecs-autoscale-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let _cleanup = RemoveDir(dir.clone());
    let original = std::fs::read_to_string(stack::root().join("clusters/my_cluster.yml"))?;
    std::fs::write(
        dir.join("my_cluster.yml"),
        cluster_file(&original, rabbit.management_port)?,
    )?;
    // `%(RABBITMQ_USER)`/`%(RABBITMQ_PASS)` are resolved from the environment when the files load.
    std::env::set_var("RABBITMQ_USER", "guest");
    std::env::set_var("RABBITMQ_PASS", "guest");
    writeln!(
        out,
        "seeded {CLUSTER}: services worker and backend (1 task each), group of 2 instances; cluster file {}",
        dir.join("my_cluster.yml").display()
    )?;

    // The functions reach moto through the test bed's strict layer, which answers what moto
    // lacks (ECS task scale-in protection, read by the planner) and behaves as AWS does where
    // moto is lenient.
    let strict = StrictAws::start(&endpoint)
        .await
        .context("starting the strict layer in front of moto")?;
    let clients = clients_for(strict.sdk_config(), Access::ReadWrite);
    let pipeline = Pipeline::new(
        clients.clone(),
        PipelineConfig {
            clusters_dir: dir.clone(),
            metrics_queue_url: stack.metrics_queue_url.clone(),
            plans_queue_url: stack.plans_queue_url.clone(),
            bus: stack.bus.clone(),
            clusters: vec![],
            dry_run: false,
            synthetic_queue_url: Some(stack.synthetic_queue_url.clone()),
        },
    )?;
    let mut sub = Subscription::create(&clients, &stack.bus).await?;
    let result = cycles_loop(&pipeline, &sub, &harness, &rabbit, &load, options, out).await;
    sub.delete().await;
    let samples = result?;
    let elapsed = started.elapsed();

    std::fs::create_dir_all(&options.out_dir)?;
    let svg = options.out_dir.join("ecs-autoscale-demo.svg");
    std::fs::write(&svg, chart::svg(&series(&samples)))?;
    drop(rabbit);
    drop(moto);
    Ok(Summary {
        samples,
        svg,
        elapsed,
    })
}

async fn cycles_loop(
    pipeline: &Pipeline,
    sub: &Subscription,
    harness: &Clients,
    rabbit: &RabbitMq,
    load: &[(u64, f64)],
    options: &Options,
    out: &mut dyn Write,
) -> Result<Vec<Sample>> {
    let cycles = load.len() as u32;
    let mut samples = vec![sample(harness, 0, 0, 0.0, &[]).await?];
    writeln!(out, "\ncycle 0/{cycles} (start)")?;
    writeln!(out, "  {}", state_line(&samples[0]))?;
    // Each cycle's collector clock is one period after the previous, so that every cycle reads
    // a CloudWatch period of its own. They lie ahead of the real clock, which the executor tags
    // its scalings with: each period's datapoint is then newer than the scalings before it
    // and is acted on once, as it would be on AWS with cycles five minutes apart.
    let now = shared::time::epoch_secs(shared::time::now());
    let base = (now / PERIOD_SECS + 1) * PERIOD_SECS;
    let mut in_queue = 0u64;
    for (i, &(queue, cpu)) in load.iter().enumerate() {
        let n = i as u32 + 1;
        let clock = base + u64::from(n) * PERIOD_SECS;
        // The load: the queue's messages, and the backend's CPU in the period the cycle reads.
        if queue > in_queue {
            rabbit.publish(QUEUE, queue - in_queue).await?;
        } else if queue < in_queue {
            rabbit.consume(QUEUE, in_queue - queue).await?;
        }
        in_queue = queue;
        rabbit
            .wait_for_ready(QUEUE, queue, Duration::from_secs(20))
            .await?;
        let period_start = UNIX_EPOCH + Duration::from_secs(clock - PERIOD_SECS + 30);
        let cycle_clock = i64::try_from(clock)
            .ok()
            .and_then(|secs| Timestamp::from_second(secs).ok())
            .context("the cycle's clock is out of range")?;
        messaging::put_metric_data(
            &harness.cloudwatch,
            "AWS/ECS",
            "CPUUtilization",
            &[("ClusterName", CLUSTER), ("ServiceName", "backend")],
            &[(period_start, cpu)],
        )
        .await?;

        let result = pipeline.cycle(&format!("demo-{n}"), cycle_clock).await?;
        let events = sub.drain().await?;
        settle(harness).await?;
        let s = sample(harness, n, queue, cpu, &events).await?;
        writeln!(
            out,
            "\ncycle {n}/{cycles}: load {queue} messages in `{QUEUE}`, backend CPU {cpu:.1}%"
        )?;
        if let Some(e) = &result.collect_error {
            writeln!(out, "  collector: {e}")?;
        }
        for line in &s.plan_lines {
            writeln!(out, "  {line}")?;
        }
        writeln!(out, "  {}", state_line(&s))?;
        samples.push(s);
        out.flush()?;
        if !options.pause.is_zero() {
            tokio::time::sleep(options.pause).await;
        }
    }
    Ok(samples)
}

/// The world of the README's cluster.
async fn seed(c: &Clients) -> Result<()> {
    world::create_cluster(&c.ecs, CLUSTER).await?;
    world::create_group(
        &c.autoscaling,
        &c.ecs,
        CLUSTER,
        &world::GroupSpec::new(GROUP, 2).min(1).max(4),
    )
    .await?;
    for service in ["worker", "backend"] {
        let td = world::register_task_definition(&c.ecs, service, TASK_CPU, TASK_MEMORY).await?;
        world::create_service(&c.ecs, CLUSTER, service, &td, 1).await?;
    }
    scheduler::converge(&c.ecs, CLUSTER).await?;
    Ok(())
}

/// What ECS and its agents do between cycles: tasks placed and stopped, new instances
/// registered, terminated ones deregistered, then tasks placed on the new capacity.
async fn settle(c: &Clients) -> Result<()> {
    scheduler::converge(&c.ecs, CLUSTER).await?;
    world::register_group_instances(&c.autoscaling, &c.ecs, CLUSTER, GROUP).await?;
    world::deregister_departed_instances(&c.autoscaling, &c.ecs, CLUSTER).await?;
    scheduler::converge(&c.ecs, CLUSTER).await?;
    Ok(())
}

/// The cluster's state now.
async fn sample(c: &Clients, cycle: u32, queue: u64, cpu: f64, events: &[Event]) -> Result<Sample> {
    let mut services = Vec::new();
    for s in scheduler::services(&c.ecs, CLUSTER).await? {
        let name = s.service_name().unwrap_or_default().to_owned();
        let running = scheduler::service_tasks(&c.ecs, CLUSTER, &name)
            .await?
            .len() as u32;
        services.push((name, s.desired_count().max(0) as u32, running));
    }
    services.sort();
    let group = c
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(GROUP)
        .send()
        .await?;
    let group = group
        .auto_scaling_groups()
        .first()
        .context("the group is gone")?;
    let in_service = group
        .instances()
        .iter()
        .filter(|i| i.lifecycle_state().map(|s| s.as_str()) == Some("InService"))
        .count() as u32;
    let instances = scheduler::container_instances(&c.ecs, CLUSTER).await?;
    let count = |status: &str| instances.iter().filter(|i| i.status == status).count() as u32;
    let mut plan_lines = Vec::new();
    let mut outcomes = Vec::new();
    for event in events {
        match event {
            Event::Plan(plan) if plan.has_actions => {
                plan_lines.push(format!(
                    "plan {}: {}",
                    render::short_id(&plan.plan_id),
                    render::action_lines(plan).join("; ")
                ));
                for h in plan.decisions.headlines.iter().filter_map(|h| headline(h)) {
                    plan_lines.push(format!("  - {h}"));
                }
            }
            Event::Plan(plan) => plan_lines.push(format!(
                "plan {}: no change",
                render::short_id(&plan.plan_id)
            )),
            Event::Applied(report) => {
                outcomes.push(report.outcome);
                let statuses: Vec<String> = report
                    .actions
                    .iter()
                    .map(|a| format!("{} {} {}", a.kind, a.target, render::status(&a.status)))
                    .collect();
                plan_lines.push(format!(
                    "→ {}: {}",
                    render::outcome(report.outcome),
                    statuses.join(", ")
                ));
            }
            Event::Other { why, .. } => plan_lines.push(format!("another event ({why})")),
        }
    }
    Ok(Sample {
        cycle,
        queue,
        cpu,
        services,
        group_desired: group.desired_capacity().unwrap_or(0).max(0) as u32,
        in_service,
        active: count("ACTIVE"),
        draining: count("DRAINING"),
        plan_lines,
        outcomes,
    })
}

/// A headline for the demo's few lines: instances kept as they are are left out, and an
/// instance is named by its EC2 id only.
fn headline(h: &str) -> Option<String> {
    let Some(rest) = h.strip_prefix("instance ") else {
        return Some(h.to_owned());
    };
    if rest.contains("): kept:") {
        return None;
    }
    match (rest.find(" ("), rest.find("): ")) {
        (Some(open), Some(close)) if open < close => {
            Some(format!("instance {}{}", &rest[..open], &rest[close + 1..]))
        }
        _ => Some(h.to_owned()),
    }
}

/// `worker 2/2, backend 2/2 tasks (desired/running) · group desired 2, 2 in service · ...`.
pub fn state_line(s: &Sample) -> String {
    let services: Vec<String> = s
        .services
        .iter()
        .map(|(name, desired, running)| format!("{name} {desired}/{running}"))
        .collect();
    format!(
        "tasks (desired/running): {} · group: desired {}, {} in service · container instances: {} active, {} draining",
        services.join(", "),
        s.group_desired,
        s.in_service,
        s.active,
        s.draining
    )
}

fn short_queue(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// Removes a directory when dropped.
struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The summary: peak and end, plans and outcomes.
pub fn summary_lines(summary: &Summary) -> Vec<String> {
    let s = &summary.samples;
    let (Some(first), Some(last)) = (s.first(), s.last()) else {
        return vec![];
    };
    // The first cycle at the peak.
    let peak = s.iter().fold(first, |best, x| {
        if (x.tasks(), x.in_service) > (best.tasks(), best.in_service) {
            x
        } else {
            best
        }
    });
    let peak_instances = s.iter().map(|x| x.in_service).max().unwrap_or(0);
    let outcomes: Vec<Outcome> = s.iter().flat_map(|x| x.outcomes.iter().copied()).collect();
    let applied = outcomes.iter().filter(|o| **o == Outcome::Applied).count();
    vec![
        format!(
            "{} cycles in {:.0} s",
            s.len() - 1,
            summary.elapsed.as_secs_f64()
        ),
        format!(
            "start: {} tasks on {} instances; peak: {} tasks on {} instances (cycle {}); end: {} tasks on {} instance{}",
            first.tasks(),
            first.in_service,
            peak.tasks(),
            peak_instances,
            peak.cycle,
            last.tasks(),
            last.in_service,
            if last.in_service == 1 { "" } else { "s" }
        ),
        format!(
            "plans applied by the executor: {} ({} applied, {} otherwise)",
            outcomes.len(),
            applied,
            outcomes.len() - applied
        ),
    ]
}

/// Whether a path is inside the current directory, for printing it short.
pub fn display_path(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_load_rises_holds_and_falls() {
        assert_eq!(schedule(MIN_CYCLES).len(), MIN_CYCLES as usize);
        let ten = schedule(10);
        assert_eq!(ten.len(), 10);
        assert_eq!(ten[1], (320, 80.0));
        assert_eq!((ten[2], ten[5]), ((300, 70.0), (30, 20.0)));
        assert_eq!(ten[9], (0, 0.5));
    }

    #[test]
    fn headlines_name_instances_shortly_and_skip_kept_ones() {
        let arn = "arn:aws:ecs:us-east-1:1:container-instance/my_cluster/abc";
        assert_eq!(
            headline(&format!("instance i-1 ({arn}): drain: empty")).as_deref(),
            Some("instance i-1: drain: empty")
        );
        assert_eq!(headline(&format!("instance i-1 ({arn}): kept: busy")), None);
        assert_eq!(headline("capacity: x").as_deref(), Some("capacity: x"));
    }

    fn sample(cycle: u32, queue: u64, cpu: f64, running: (u32, u32), in_service: u32) -> Sample {
        Sample {
            cycle,
            queue,
            cpu,
            services: vec![
                ("backend".into(), running.0, running.0),
                ("worker".into(), running.1, running.1),
            ],
            group_desired: in_service,
            in_service,
            active: in_service,
            draining: 0,
            plan_lines: vec![],
            outcomes: vec![],
        }
    }

    #[test]
    fn the_chart_series_follow_the_samples() {
        let samples = [
            sample(0, 0, 0.0, (1, 1), 2),
            sample(1, 180, 55.0, (2, 3), 3),
        ];
        let s = series(&samples);
        assert_eq!(s.cycles, [0, 1]);
        assert_eq!(s.tasks, [2, 5]);
        assert_eq!(s.instances, [2, 3]);
        assert_eq!(
            s.services,
            [
                ("backend".to_owned(), vec![1, 2]),
                ("worker".to_owned(), vec![1, 3])
            ]
        );
        assert_eq!(s.load, [None, Some((180, 55.0))]);
        let lines = chart::terminal(&s);
        assert!(lines[1].trim_end().ends_with('-'), "{lines:?}");
        assert!(lines[2].ends_with("180 msgs, 55.0%"), "{lines:?}");
        assert_eq!(chart::svg(&s).matches("<polyline").count(), 4);
    }

    #[test]
    fn the_cluster_file_points_at_the_local_rabbitmq() {
        let original =
            std::fs::read_to_string(stack::root().join("clusters/my_cluster.yml")).unwrap();
        let text = cluster_file(&original, 15672).unwrap();
        assert!(text.contains(
            "url: http://%(RABBITMQ_USER):%(RABBITMQ_PASS)@127.0.0.1:15672/api/queues/%2F/celery"
        ));
        assert_eq!(text.matches("scale_down_cooldown: 0").count(), 2);
        let def = shared::definition::parse_definition(
            CLUSTER,
            Path::new("my_cluster.yml"),
            &text,
            &|v| Some(format!("{v}-value")),
        )
        .expect("valid");
        assert_eq!(def.services.len(), 2);
    }
}
