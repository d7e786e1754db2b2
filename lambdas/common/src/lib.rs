//! tgw-peering: AWS Transit Gateway inter-Region peering, end to end.
//!
//! The three Lambda binaries are thin shells over [`handler`]. The decisions live in pure
//! modules ([`request`], [`validate`], [`state`], [`peering`], [`planner`]); [`ec2`] is the only
//! place that talks to AWS.

pub mod context;
pub mod ec2;
pub mod error;
pub mod handler;
pub mod peer;
pub mod peering;
pub mod planner;
pub mod reachability;
pub mod record;
pub mod report;
pub mod request;
pub mod routes;
pub mod state;
pub mod status;
pub mod teardown;
pub mod validate;
pub mod vpc_tables;

pub use context::Context;
pub use error::{Error, Result};
