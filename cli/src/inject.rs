//! `ecs-autoscale inject --cluster NAME --service NAME ALIAS=VALUE... [--via bus|queue]`: sends a
//! synthetic metrics report, as if the collector had measured those values.
//!
//! Through the bus (default): an event with source `ecs-autoscale.synthetic` and detail-type
//! `Metrics Report`, which the stack's rule routes to its synthetic-metrics queue, whence the
//! collector forwards it to the metrics queue. Through the queue: the bare report, as the
//! collector sends it (to the FIFO metrics queue: message group = the cluster, deduplication id
//! from the report's own cycle id). The cluster, service and aliases are checked against the
//! cluster files first; nothing is sent when one is unknown.

use anyhow::Result;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use shared::messages::{
    report_deduplication_id, MetricsReport, METRICS_REPORT_DETAIL_TYPE, SYNTHETIC_SOURCE,
};

use crate::args::{ClusterFiles, ClusterName, EventBus, MetricsQueue};
use crate::aws::{self, call_failed, Access};
use crate::{clusters, exit, CliError};

/// Where the report goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Via {
    /// An event on the bus (the stack routes it to the planner through the collector).
    Bus,
    /// Straight to the metrics queue.
    Queue,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    cluster: ClusterName,
    /// The service the values are for.
    #[arg(long, value_name = "NAME")]
    service: String,
    /// Values: `ALIAS=VALUE` (an alias of the service's statistics), one or more.
    #[arg(value_name = "ALIAS=VALUE", required = true)]
    values: Vec<String>,
    /// Send through the bus (`--bus`) or straight to the metrics queue (`--metrics-queue-url`).
    #[arg(long, value_enum, default_value = "bus")]
    via: Via,
    // With `--via bus`.
    #[command(flatten)]
    bus: EventBus,
    // With `--via queue`.
    #[command(flatten)]
    queue: MetricsQueue,
    #[command(flatten)]
    files: ClusterFiles,
    /// Print the report sent as JSON.
    #[arg(long)]
    json: bool,
}

/// Checks, sends, prints what was sent.
pub async fn run(args: &Args) -> Result<u8> {
    let report = build(args)?;
    let clients = aws::clients(Access::ReadWrite).await?;
    let body = serde_json::to_string(&report)?;
    let route = match args.via {
        Via::Bus => {
            let entry = PutEventsRequestEntry::builder()
                .event_bus_name(&args.bus.bus)
                .source(SYNTHETIC_SOURCE)
                .detail_type(METRICS_REPORT_DETAIL_TYPE)
                .detail(&body)
                .build();
            let out = clients
                .eventbridge
                .put_events()
                .entries(entry)
                .send()
                .await
                .map_err(|e| call_failed("PutEvents", e))?;
            if out.failed_entry_count() > 0 {
                let entry = out.entries().first();
                return Err(CliError::failure(format!(
                    "the bus `{}` refused the report: {} {}",
                    args.bus.bus,
                    entry.and_then(|e| e.error_code()).unwrap_or("unknown"),
                    entry.and_then(|e| e.error_message()).unwrap_or_default()
                ))
                .hint("pass the stack's bus with `--bus NAME` or EVENT_BUS_NAME")
                .into());
            }
            format!("bus `{}`", args.bus.bus)
        }
        Via::Queue => {
            let Some(url) = args
                .queue
                .metrics_queue_url
                .as_deref()
                .filter(|u| !u.is_empty())
            else {
                return Err(CliError::problem("`--via queue` needs the metrics queue")
                    .hint("pass `--queue-url URL` or set METRICS_QUEUE_URL (the stack's output MetricsQueueUrl)")
                    .into());
            };
            let mut send = clients
                .sqs
                .send_message()
                .queue_url(url)
                .message_body(&body);
            if collector::handler::is_fifo(url) {
                send = send
                    .message_group_id(&report.cluster)
                    .message_deduplication_id(report_deduplication_id(
                        &report.cycle_id,
                        &report.cluster,
                    ));
            }
            send.send()
                .await
                .map_err(|e| call_failed("SendMessage", e))?;
            format!("queue {}", shared::redact::redact_url(url))
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let values: Vec<String> = report
            .services
            .iter()
            .flat_map(|(s, m)| m.values.iter().map(move |(a, v)| format!("{s}.{a}={v}")))
            .collect();
        println!(
            "sent synthetic metrics report {} for cluster {} ({}) through the {route}",
            report.cycle_id,
            report.cluster,
            values.join(", ")
        );
    }
    Ok(exit::OK)
}

/// The report for `args`, after checking the cluster, service and aliases.
pub fn build(args: &Args) -> Result<MetricsReport> {
    let loaded = clusters::load(&args.files.clusters_dir)?;
    let definition = clusters::find(&loaded, &args.cluster.cluster, &args.files.clusters_dir)?;
    let service = clusters::service(definition, &args.service)?;
    let at = shared::time::now();
    let mut report = MetricsReport::new(&definition.name, format!("synthetic-{at}"), at);
    report.origin = "synthetic".to_owned();
    for text in &args.values {
        let a = clusters::assignment(definition, Some(&service.name), text)?;
        report
            .services
            .entry(a.service)
            .or_default()
            .set_value(a.alias, a.value);
    }
    Ok(report)
}
