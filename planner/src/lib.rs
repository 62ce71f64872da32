//! The planner Lambda: metrics reports in, one scaling plan per cluster out.
//!
//! - [`state_reader`] reads a cluster's live state from ECS and Auto Scaling (the call budget
//!   is documented there);
//! - [`handler`] is the Lambda handler (`handle(event, &deps)`): decodes and groups the
//!   reports, reads the state, calls the pure core, sends and publishes the plans;
//! - [`decide`] is the pure core, `plan(definition, metrics, state, now)` (no I/O);
//! - [`emf`] builds the decision metrics (Embedded Metric Format) of a delivered plan.

pub mod decide;
pub use decide::{
    merge_reports, plan, plan_delivery, protection_listing, task_listing, DeliveryRules, Freshness,
    TaskListing,
};

pub mod emf;
pub mod handler;
pub mod state_reader;
