//! `ecs-autoscale schema cluster|metrics-report|scaling-plan|plan-applied [--eventbridge]`

use anyhow::Result;
use shared::schema::{to_pretty_json, Document};

use crate::{exit, CliError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which schema: the cluster file, or a message.
    #[arg(value_enum)]
    document: Name,
    /// A message's schema as the stack publishes it in its EventBridge schema registry: the
    /// event envelope around the message, JSON Schema draft-04 (not for `cluster`).
    #[arg(long)]
    eventbridge: bool,
}

/// The names of [`Document`]s on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Name {
    /// A cluster file (`clusters/NAME.yml`), for editors.
    Cluster,
    /// A metrics report (collector → planner; `Metrics Report` on the bus).
    MetricsReport,
    /// A scaling plan (`Scaling Plan` on the bus).
    ScalingPlan,
    /// An execution report (`Scaling Plan Applied` on the bus).
    PlanApplied,
}

impl From<Name> for Document {
    fn from(name: Name) -> Self {
        match name {
            Name::Cluster => Document::Cluster,
            Name::MetricsReport => Document::MetricsReport,
            Name::ScalingPlan => Document::ScalingPlan,
            Name::PlanApplied => Document::PlanApplied,
        }
    }
}

/// Prints the schema as pretty JSON with sorted keys (the form of the files under `schemas/`).
pub fn run(args: &Args) -> Result<u8> {
    let document = Document::from(args.document);
    let schema = if args.eventbridge {
        document.eventbridge_schema().ok_or_else(|| CliError {
            message: format!("`{}` is not an event", document.name()),
            hints: vec![
                "--eventbridge is for metrics-report, scaling-plan and plan-applied".into(),
            ],
            code: exit::USAGE,
        })?
    } else {
        document.json_schema()
    };
    print!("{}", to_pretty_json(&schema));
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    #[test]
    fn every_document_has_its_name_on_the_command_line() {
        let names: Vec<String> = Name::value_variants()
            .iter()
            .map(|n| Document::from(*n).name().to_string())
            .collect();
        let cli: Vec<String> = Name::value_variants()
            .iter()
            .filter_map(|n| n.to_possible_value().map(|v| v.get_name().to_string()))
            .collect();
        let all: Vec<String> = Document::ALL.iter().map(|d| d.name().to_string()).collect();
        assert_eq!(names, all);
        assert_eq!(cli, all);
    }
}
