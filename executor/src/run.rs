//! One application of a plan in progress: what each action module gets ([`Run`]) and gives
//! back (its guard's [`Verdict`], then applied/failed), and how a run ends early ([`ApplyError`]).

use shared::aws::AwsClients;
use shared::messages::{ActionOutcome, ActionStatus, ScalingPlan};
use shared::resources::Resources;

use crate::errors::CallError;
use crate::live::Live;

/// What a guard says about one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The live value is the plan's `from`: make the change described.
    Apply(String),
    /// The target already holds: nothing to do.
    AlreadyApplied(String),
    /// The live value is neither `from` nor the target: the plan is stale for this action.
    Stale(String),
    /// A safety rule says no (outside the group's limits, below its minimum, ...).
    Skip(String),
}

/// Why a plan was not applied to the end.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A call failed in a way another delivery may fix; the plan must come again.
    #[error("{kind}: {error} (retryable: the plan will be delivered again)")]
    Retryable {
        /// The action kind (or `read`) that failed.
        kind: &'static str,
        /// The error.
        error: CallError,
        /// What was settled before it, for the logs.
        done: Vec<ActionOutcome>,
    },
    /// The test hook stopped the run.
    #[error("stopped before mutating call {} (test hook)", .mutations + 1)]
    Interrupted {
        /// Mutating calls made.
        mutations: usize,
        /// What was settled before it.
        done: Vec<ActionOutcome>,
    },
}

/// The state of one application of a plan, handed to each action module.
pub struct Run<'a> {
    pub(crate) clients: &'a AwsClients,
    pub(crate) plan: &'a ScalingPlan,
    pub(crate) dry_run: bool,
    pub(crate) now_secs: u64,
    /// The cluster file's `cpu_buffer`/`mem_buffer`: drains must leave room for it.
    pub(crate) buffer: Resources,
    pub(crate) live: Live,
    mutations: usize,
    stop_after: Option<usize>,
    outcomes: Vec<ActionOutcome>,
    /// Stale or failed verdicts so far (also counted in a dry run, where statuses are `skipped`).
    problems: usize,
}

impl<'a> Run<'a> {
    /// A run that has settled nothing yet.
    pub(crate) fn new(
        clients: &'a AwsClients,
        plan: &'a ScalingPlan,
        live: Live,
        options: RunOptions,
    ) -> Self {
        Run {
            clients,
            plan,
            dry_run: options.dry_run,
            now_secs: options.now_secs,
            buffer: options.buffer,
            live,
            mutations: 0,
            stop_after: options.stop_after_mutations,
            outcomes: Vec::new(),
            problems: 0,
        }
    }

    /// The actions' outcomes, in the order settled.
    pub(crate) fn into_outcomes(self) -> Vec<ActionOutcome> {
        self.outcomes
    }

    /// Counts a mutating call about to be sent; the test hook stops the run here.
    pub(crate) fn begin_mutation(&mut self) -> Result<(), ApplyError> {
        if self.stop_after == Some(self.mutations) {
            return Err(ApplyError::Interrupted {
                mutations: self.mutations,
                done: std::mem::take(&mut self.outcomes),
            });
        }
        self.mutations += 1;
        Ok(())
    }

    /// The error that ends the run for redelivery.
    pub(crate) fn retry(&mut self, kind: &'static str, error: CallError) -> ApplyError {
        ApplyError::Retryable {
            kind,
            error,
            done: std::mem::take(&mut self.outcomes),
        }
    }

    /// Records the verdict, unless it says to make the call now: then returns the description
    /// of the change. In a dry run nothing is ever to be called.
    pub(crate) fn settle(
        &mut self,
        kind: &'static str,
        target: &str,
        verdict: Verdict,
    ) -> Option<String> {
        let (status, detail) = match verdict {
            Verdict::Apply(change) if self.dry_run => {
                (ActionStatus::Skipped, format!("would {change}"))
            }
            Verdict::Apply(change) => return Some(change),
            Verdict::AlreadyApplied(why) if self.dry_run => {
                (ActionStatus::Skipped, format!("would do nothing: {why}"))
            }
            Verdict::AlreadyApplied(why) => (ActionStatus::AlreadyApplied, why),
            Verdict::Stale(why) => {
                self.problems += 1;
                if self.dry_run {
                    (
                        ActionStatus::Skipped,
                        format!("would not act, stale: {why}"),
                    )
                } else {
                    (ActionStatus::Stale, why)
                }
            }
            Verdict::Skip(why) if self.dry_run => {
                (ActionStatus::Skipped, format!("would not act: {why}"))
            }
            Verdict::Skip(why) => (ActionStatus::Skipped, why),
        };
        self.push(kind, target, status, detail, None);
        None
    }

    /// Records a change made now.
    pub(crate) fn applied(&mut self, kind: &'static str, target: &str, detail: String) {
        self.push(kind, target, ActionStatus::Applied, detail, None);
    }

    /// Records a non-retryable failure, or ends the run for a retryable one.
    pub(crate) fn failed(
        &mut self,
        kind: &'static str,
        target: &str,
        change: &str,
        error: CallError,
    ) -> Result<(), ApplyError> {
        if error.is_retryable() {
            return Err(self.retry(kind, error));
        }
        self.problems += 1;
        tracing::warn!(plan_id = %self.plan.plan_id, kind, target, %error, "action failed");
        self.push(
            kind,
            target,
            ActionStatus::Failed,
            format!("could not {change}"),
            Some(error.to_string()),
        );
        Ok(())
    }

    /// Whether an earlier action of this plan was stale or failed.
    pub(crate) fn earlier_problem(&self) -> bool {
        self.problems > 0
    }

    fn push(
        &mut self,
        kind: &'static str,
        target: &str,
        status: ActionStatus,
        detail: String,
        error: Option<String>,
    ) {
        tracing::info!(plan_id = %self.plan.plan_id, kind, target, ?status, %detail, "action settled");
        self.outcomes.push(ActionOutcome {
            kind: kind.to_owned(),
            target: target.to_owned(),
            detail,
            status,
            error,
        });
    }
}

/// How a [`Run`] runs.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RunOptions {
    /// Make no mutating call.
    pub dry_run: bool,
    /// Seconds since the epoch at the start of the run.
    pub now_secs: u64,
    /// The cluster's buffer (see [`Run::buffer`]).
    pub buffer: Resources,
    /// Test hook: stop before the (k+1)-th mutating call.
    pub stop_after_mutations: Option<usize>,
}
