//! `ecs-autoscale simulate`: replays a timeline of metrics against a simulated ECS-on-EC2
//! cluster, driving the real decision code — the planner's pure core (`planner::plan`) at every
//! step, and the executor's per-action guards (`executor::actions::*::guard`) to apply each plan
//! — and measures what it would have cost.
//!
//! - [`world_file`]: `WORLD.yml` (instance size, timings, the group and services at the start);
//! - [`timeline`]: `METRICS.csv` (`time,service,alias,value`), checked against the cluster file;
//! - [`world`]: the simulated cluster (Auto Scaling and ECS's scheduler), written apart from the
//!   planner's packing;
//! - [`metrics`]: the report a collector would send at a step (CloudWatch periods, observation
//!   times, defaults);
//! - [`apply`](mod@apply): a plan applied through the executor's guards, in the executor's order;
//! - [`run`](mod@run): the closed loop and the world's invariant checks; [`bound`]: the lower
//!   bound on instances per step;
//! - [`summary`], [`series`], [`chart`]: the outputs (`--json`, `series.csv`, `chart.svg`);
//! - [`history`]: a timeline from CloudWatch (`--from-cloudwatch`);
//! - [`scenarios`]: the repository's scenarios and the generator of their timelines.
//!
//! **Invariant:** nothing here makes an AWS call except [`history::fetch`], whose client the
//! caller gives (read-only in the CLI).

pub mod apply;
pub mod bound;
pub mod chart;
pub mod history;
pub mod metrics;
pub mod run;
pub mod scenarios;
pub mod series;
pub mod summary;
pub mod timeline;
pub mod world;
pub mod world_file;

pub use run::{run, Input, Outcome, SetupError};
pub use summary::Summary;
pub use timeline::Timeline;
pub use world_file::WorldFile;
