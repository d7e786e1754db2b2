//! tgw-peering: AWS Transit Gateway inter-Region peering, end to end.
//!
//! The three Lambda binaries are thin shells over [`handler`], which decodes the payload and
//! hands the [`contract::state::PeeringState`] to one of the [`actions`]. An action is a short
//! sequence of named steps: read through [`aws`] (the only place that talks to AWS), decide in
//! [`plan`] (pure functions over plain data), write through [`aws`], report into the state.
//!
//! Where a route decision is made: [`plan::pass::plan_pass`] (which CIDRs go into which table,
//! overlap and quota) and [`plan::routing::plan_routes`] (create, present or conflict for each).
//! Configuration is read in one place, [`config`].

pub mod actions;
pub mod aws;
pub mod config;
pub mod contract;
pub mod error;
pub mod handler;
pub mod plan;

pub use aws::Shell;
pub use error::{Error, Result};
