//! The demo's scenario, shorter: the cluster scales out (services and instances) and back in
//! (drain, terminate), and the summary says what the state is.
//!
//! Needs what `make demo` needs: `.venv` (moto), `.venv-sam` (the template's expansion) and
//! RabbitMQ (`scripts/rabbitmq.sh`).

use std::time::Duration;

use ecs_autoscale_demo::scenario::{self, Options, MIN_CYCLES};
use shared::messages::Outcome;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_scales_out_and_back_in() {
    let out_dir =
        std::env::temp_dir().join(format!("ecs-autoscale-demo-test-{}", std::process::id()));
    let options = Options {
        cycles: MIN_CYCLES,
        pause: Duration::ZERO,
        out_dir: out_dir.clone(),
    };
    let mut log = Vec::new();
    let summary = scenario::run(&options, &mut log)
        .await
        .unwrap_or_else(|e| panic!("the demo failed: {e:#}\n{}", String::from_utf8_lossy(&log)));
    let log = String::from_utf8_lossy(&log).into_owned();
    let s = &summary.samples;
    assert_eq!(s.len(), MIN_CYCLES as usize + 1, "{log}");
    let (first, last) = (&s[0], s.last().unwrap());
    assert_eq!((first.tasks(), first.in_service), (2, 2), "{log}");

    // Out: both services to their max (3) and a third instance, in one cycle.
    let peak = s.iter().map(|x| x.tasks()).max().unwrap();
    let peak_instances = s.iter().map(|x| x.in_service).max().unwrap();
    assert_eq!((peak, peak_instances), (6, 3), "{log}");
    let out = s.iter().position(|x| x.in_service == 3).unwrap();
    assert_eq!(
        s[out].tasks(),
        6,
        "services and instances scale out together:\n{log}"
    );
    assert!(log.contains("desired capacity: 2 → 3"), "{log}");

    // In: back to the minimum, instances drained then terminated.
    assert_eq!(
        (last.tasks(), last.desired_tasks(), last.in_service),
        (2, 2, 1),
        "{log}"
    );
    assert_eq!(
        (last.active, last.draining, last.group_desired),
        (1, 0, 1),
        "{log}"
    );
    assert!(log.contains("drain i-"), "{log}");
    assert!(log.contains("terminate i-"), "{log}");
    let outcomes: Vec<Outcome> = s.iter().flat_map(|x| x.outcomes.clone()).collect();
    assert!(
        !outcomes.is_empty() && outcomes.iter().all(|o| *o == Outcome::Applied),
        "{outcomes:?}"
    );
    for x in s {
        for (service, desired, running) in &x.services {
            assert_eq!(
                desired, running,
                "cycle {}: {service} converged\n{log}",
                x.cycle
            );
        }
    }

    // The summary says what the last sampled state is.
    let lines = scenario::summary_lines(&summary).join("\n");
    assert!(
        lines.contains(&format!("{MIN_CYCLES} cycles in")),
        "{lines}"
    );
    assert!(
        lines.contains("start: 2 tasks on 2 instances; peak: 6 tasks on 3 instances"),
        "{lines}"
    );
    assert!(lines.contains("end: 2 tasks on 1 instance"), "{lines}");
    let svg = std::fs::read_to_string(&summary.svg).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.matches("<polyline").count() == 4,
        "{svg}"
    );
    let _ = std::fs::remove_dir_all(out_dir);
}
