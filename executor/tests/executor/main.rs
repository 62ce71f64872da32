//! The executor against the emulator (moto) with the test bed's scheduler helper. One binary,
//! one moto server; the tests take turns on it (`TestBed::start` holds a lock).
//!
//! - `idempotence`: replays, stale plans, crashes mid-apply, dry runs;
//! - `lifecycle`: drain → the scheduler moves the tasks → terminate;
//! - `deadlines`: drains past their deadline aborted or forced, and an empty instance drained
//!   and terminated in one plan;
//! - `faults`: a fault-injecting proxy in front of moto (throttling, 5xx, lost answers);
//! - `handler`: SQS batches (undecodable records, FIFO order) and the report on the bus;
//! - `corpus`: the hostile plans of `tests/corpus/plans/`, each rejected, nothing changed;
//! - `budget`: the number of calls per plan;
//! - `runtime`: the real binary under the runtime API emulator (`main.rs`'s wiring).

mod budget;
mod corpus;
mod deadlines;
mod faults;
mod handler;
mod idempotence;
mod lifecycle;
mod runtime;
mod support;
