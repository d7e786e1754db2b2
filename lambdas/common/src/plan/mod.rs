//! The pure core: every decision the functions make, over plain data read from EC2. Nothing here
//! calls AWS; each module is tested on its own.
//!
//! - [`attachment`]: what an attachment's state means for the workflow.
//! - [`peering`]: which peering to reuse, and which duplicates to delete.
//! - [`routing`]: which routes a table needs (create, present, conflict).
//! - [`prune`]: which of the tool's routes are no longer wanted, make before break, and the
//!   guard against mass deletion.
//! - [`pass`]: one `modify-routes` pass, planned for both sides at once (overlap, plans, quota).
//! - [`vpc_tables`]: which VPC route tables a VPC's traffic to the TGW uses.
//! - [`propagation`]: which VPC attachments to propagate into the peering's table (the return
//!   path).
//! - [`reachability`]: whether a packet gets from each VPC to each peer VPC and back.
//! - [`security_groups`]: whether any security group of each VPC admits the peer VPC (advice).
//! - [`network_acl`]: which network ACLs a VPC's traffic crosses, and whether it passes them.
//! - [`record`]: the tags that record the routes this tool created.
//! - [`report`]: what `modify-routes` reports, and how passes add up.
//! - [`teardown`]: which routes a teardown removes.
//! - [`metrics`]: the report as CloudWatch Embedded Metric Format documents.
//! - [`notice`]: the summary an operator is sent when a run left something for a person.

use std::fmt;

use serde::{Deserialize, Serialize};

pub mod association;
pub mod attachment;
pub mod mesh;
pub mod metrics;
pub mod network_acl;
pub mod notice;
pub mod pass;
pub mod peering;
pub mod propagation;
pub mod prune;
pub mod reachability;
pub mod record;
pub mod report;
pub mod routing;
pub mod security_groups;
pub mod summary;
pub mod teardown;
pub mod vpc_tables;

/// One end of the peering: the side that requests it, or the side that accepts it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    #[default]
    Active,
    Passive,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::Active, Side::Passive];

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Active => "active",
            Side::Passive => "passive",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
