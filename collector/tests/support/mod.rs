//! Test support shared by the collector's integration tests (each test binary uses a part).
#![allow(dead_code)]

pub mod backlog_server;
pub mod defs;
pub mod http_server;
pub mod logs;
