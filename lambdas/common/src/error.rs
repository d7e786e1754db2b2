//! The one error type of the library. Every variant maps to a stable `errorType` string that the
//! state machine's Retry and Catch clauses match on, so renaming one is a breaking change.

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use lambda_runtime::Diagnostic;

/// EC2 error codes that mean "slow down". The SDK's standard retry strategy already retries these
/// with backoff; we only see them once its attempts are used up.
const THROTTLING_CODES: &[&str] = &[
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "EC2ThrottledException",
    "RequestThrottled",
];

/// EC2's server error codes (HTTP 5xx): the request may or may not have been carried out.
const SERVER_ERROR_CODES: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "Unavailable",
];

/// EC2 error codes that mean the caller's credentials lack a permission.
const ACCESS_DENIED_CODES: &[&str] = &["UnauthorizedOperation", "AccessDenied", "AuthFailure"];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request failed validation; nothing was read or changed.
    #[error("invalid input: `{field}` {reason}")]
    InvalidInput { field: String, reason: String },

    /// A transit gateway named (or implied) by the request does not exist in that Region, or no id
    /// was given and the Region has none available.
    #[error("transit gateway not found: `{field}` {reason}")]
    TransitGatewayNotFound { field: String, reason: String },

    /// No id was given and more than one transit gateway qualifies.
    #[error(
        "ambiguous transit gateway: `{field}` is not set and {region} has {} available transit \
         gateways ({}); set `{field}` to the one to peer",
        ids.len(),
        ids.join(", ")
    )]
    AmbiguousTransitGateway {
        field: String,
        region: String,
        ids: Vec<String>,
    },

    /// The transit gateway exists but is not `available`.
    #[error(
        "transit gateway not available: `{field}` {id} in {region} is {state}; wait until it is \
         available, or name another"
    )]
    TransitGatewayNotAvailable {
        field: String,
        id: String,
        region: String,
        state: String,
    },

    /// A route table id does not exist, or belongs to another transit gateway.
    #[error("route table mismatch: `{field}` {reason}")]
    RouteTableMismatch { field: String, reason: String },

    /// The peering attachment named by `attachmentId` cannot be found.
    #[error(
        "peering attachment not found: `attachmentId` {attachment_id} does not exist in {region}; \
         run `peer` again to create the peering"
    )]
    PeeringAttachmentNotFound { attachment_id: String, region: String },

    /// The peering attachment is in a state from which it never becomes available.
    #[error(
        "peering failed: attachment {attachment_id} is {state}; delete it and run `peer` again \
         to create a new one"
    )]
    PeeringFailed { attachment_id: String, state: String },

    /// Routes were asked for before the peering attachment is available.
    #[error(
        "peering not ready: attachment {attachment_id} is {state}; static routes can only be \
         added once it is available, so wait for `get-status` to report available"
    )]
    PeeringNotReady { attachment_id: String, state: String },

    /// A function's output would not fit the state it is written into: Step Functions would end
    /// the execution with `States.DataLimitExceeded`, which no Catch can handle (the lock held).
    /// The run stops with this instead (the lock is released), keeping what it changed.
    #[error(
        "{function} output too large: {bytes} bytes, over the {limit} bytes it may add to the \
         execution's state (Step Functions' 256 KiB payload quota), so the run stops here instead \
         of failing where nothing can catch it. The changes already made are kept; tag fewer VPCs \
         per request or split the mesh, and report the execution so the report can be capped"
    )]
    OutputTooLarge {
        function: &'static str,
        bytes: usize,
        limit: usize,
    },

    /// A CIDR routed from one side overlaps one routed from the other (VPC CIDRs, extra CIDRs
    /// and propagated on-premises CIDRs alike), so routing across the peering is ambiguous.
    #[error(
        "CIDR overlap: active {active_cidr} ({active_source}) overlaps passive {passive_cidr} \
         ({passive_source}); renumber one side, remove the VPC's `{tag_key}` tag, or take the \
         range out of extraCidrs. Nothing was changed"
    )]
    CidrOverlap {
        active_cidr: String,
        active_source: String,
        passive_cidr: String,
        passive_source: String,
        tag_key: String,
    },

    /// Two sides of a mesh route overlapping CIDRs (whether or not they are listed next to each
    /// other), so a packet to the shared range would have two places to go.
    #[error(
        "CIDR overlap in the mesh: {side} overlaps {other}; renumber one side, remove the VPC's `{tag_key}` tag, or \
         leave one of the Regions out of the mesh. Nothing was changed"
    )]
    MeshCidrOverlap {
        /// One side's range: `<region> <cidr> (<source>)`.
        side: String,
        /// The other side's.
        other: String,
        tag_key: String,
    },

    /// A transit gateway would have more peering attachments than its quota allows.
    #[error(
        "peering attachment quota exceeded: {transit_gateway_id} in {region} has {existing} live \
         peering attachments and the mesh needs {to_create} more, over its quota of {quota}; \
         raise \"Peering attachments per transit gateway\" in Service Quotas and set \
         PEERING_ATTACHMENT_QUOTA to it, or mesh fewer Regions. Nothing was changed"
    )]
    AttachmentQuotaExceeded {
        region: String,
        transit_gateway_id: String,
        existing: usize,
        to_create: usize,
        quota: usize,
    },

    /// A VPC route table would hold more routes than its quota allows.
    #[error(
        "route quota exceeded: VPC route table {route_table_id} ({vpc_id}) in {region} has \
         {existing} routes and needs {to_create} more, over its quota of {quota}; raise \
         \"Routes per route table\" in Service Quotas and set VPC_ROUTE_TABLE_QUOTA (the \
         VpcRouteTableQuota parameter) to match, summarise the remote ranges, or turn vpcRoutes \
         off. Nothing was changed"
    )]
    RouteQuotaExceeded {
        region: String,
        route_table_id: String,
        vpc_id: String,
        existing: usize,
        to_create: usize,
        quota: usize,
    },

    /// A transit gateway would hold more routes than its quota allows.
    #[error(
        "route quota exceeded: {transit_gateway_id} in {region} has {existing} routes in the \
         tables read and needs {to_create} more, over its quota of {quota} routes per transit \
         gateway; raise the quota (Service Quotas, Amazon VPC) and set TGW_ROUTE_QUOTA to it"
    )]
    TgwRouteQuotaExceeded {
        region: String,
        transit_gateway_id: String,
        existing: usize,
        to_create: usize,
        quota: usize,
    },

    /// A prune would remove more of the tool's routes than the guard lets one run remove
    /// (`pruneThreshold` percent, or every one on a side); nothing was changed, and the message
    /// names the count to pass as `confirmPrune`.
    #[error(
        "prune refused: it would remove {remove} of the {owned} routes tgw-peering created for \
         {peering_attachment_id} ({reason}); nothing was changed. If a tag key, a tag or a read \
         is wrong, fix that. If these routes really are no longer wanted, run again with \
         \"confirmPrune\": {remove} (a dry run lists them), or raise pruneThreshold"
    )]
    PruneRefused {
        peering_attachment_id: String,
        remove: usize,
        owned: usize,
        reason: String,
    },

    /// EC2 kept throttling after the SDK's retries were used up.
    #[error("throttled: EC2 {action} in {region} was throttled after all retries; run again later")]
    Throttled { action: &'static str, region: String },

    /// The function's role lacks a permission.
    #[error(
        "access denied: EC2 {action} in {region} was refused ({code}: {message}); grant \
         ec2:{action} to the function's role"
    )]
    AccessDenied {
        action: &'static str,
        region: String,
        code: String,
        message: String,
    },

    /// A side's role in another account cannot be assumed: it does not exist, or does not trust
    /// the function's role, or the stack does not let the functions assume it.
    #[error(
        "access denied: cannot assume `{field}` {role_arn} ({message}); check that the role exists \
         in that side's account, that its trust policy allows this stack's function roles (deploy \
         cloudformation/passive-account-role.yaml there), and that the stack names it \
         (PassiveRoleArn or MeshRoleArns). This step changed nothing"
    )]
    AssumeRoleDenied {
        field: String,
        role_arn: String,
        message: String,
    },

    /// EC2 returned an error not covered above.
    #[error("EC2 {action} in {region} failed: {code}: {message}")]
    Ec2 {
        action: &'static str,
        region: String,
        code: String,
        message: String,
    },

    /// DynamoDB failed a read or write of the record in the state table after every retry; a
    /// re-run picks up where this one stopped.
    #[error(
        "state table: DynamoDB {action} on {table} failed ({code}: {message}); the record of the \
         routes this tool created lives there, so nothing more was written. A re-run picks up \
         where this one stopped"
    )]
    StateTable {
        action: &'static str,
        table: String,
        code: String,
        message: String,
    },

    /// The function's role may not read or write the record in the state table.
    #[error(
        "access denied: DynamoDB {action} on the state table {table} was refused ({message}); \
         grant dynamodb:{action} on it to the function's role (the stack's template does)"
    )]
    StateTableDenied {
        action: &'static str,
        table: String,
        message: String,
    },

    /// `STATE_TABLE` is not set on `modify-routes`; deploy with the stack's template, which sets
    /// it to the state table.
    #[error(
        "state table not set: STATE_TABLE is empty, and modify-routes keeps its record of the \
         routes it creates in the stack's DynamoDB table; set STATE_TABLE to that table's name \
         (the stack's template does)"
    )]
    StateTableNotSet,

    /// EC2 could not be reached, or dropped the connection, after every retry.
    #[error("EC2 {action} in {region} could not be completed: {message}")]
    Ec2Unreachable {
        action: &'static str,
        region: String,
        message: String,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The stable `errorType` the state machine matches on.
    pub fn error_type(&self) -> &'static str {
        match self {
            Error::InvalidInput { .. } => "InvalidInput",
            Error::TransitGatewayNotFound { .. } => "TransitGatewayNotFound",
            Error::AmbiguousTransitGateway { .. } => "AmbiguousTransitGateway",
            Error::TransitGatewayNotAvailable { .. } => "TransitGatewayNotAvailable",
            Error::RouteTableMismatch { .. } => "RouteTableMismatch",
            Error::PeeringAttachmentNotFound { .. } => "PeeringAttachmentNotFound",
            Error::PeeringFailed { .. } => "PeeringFailed",
            Error::PeeringNotReady { .. } => "PeeringNotReady",
            Error::OutputTooLarge { .. } => "OutputTooLarge",
            Error::CidrOverlap { .. } | Error::MeshCidrOverlap { .. } => "CidrOverlap",
            Error::AttachmentQuotaExceeded { .. } => "AttachmentQuotaExceeded",
            Error::RouteQuotaExceeded { .. } | Error::TgwRouteQuotaExceeded { .. } => "RouteQuotaExceeded",
            Error::PruneRefused { .. } => "PruneRefused",
            Error::Throttled { .. } => "Throttled",
            Error::AccessDenied { .. } | Error::AssumeRoleDenied { .. } => "AccessDenied",
            Error::Ec2 { .. } => "Ec2Error",
            Error::Ec2Unreachable { .. } => "Ec2Unreachable",
            Error::StateTable { .. } => "StateTableError",
            Error::StateTableNotSet => "StateTableNotSet",
            Error::StateTableDenied { .. } => "AccessDenied",
        }
    }

    /// Whether EC2 answered that it refused the call (a client error, throttling or a denied
    /// permission), so the call changed nothing. A server error or no answer leaves the outcome
    /// unknown (docs/aws-facts.md, ec2-client-error-no-change).
    pub fn made_no_change(&self) -> bool {
        match self {
            Error::Throttled { .. } | Error::AccessDenied { .. } => true,
            Error::Ec2 { code, .. } => !SERVER_ERROR_CODES.contains(&code.as_str()),
            _ => false,
        }
    }

    /// Whether this is EC2's error `code`.
    pub fn is_ec2_code(&self, code: &str) -> bool {
        matches!(self, Error::Ec2 { code: found, .. } if found == code)
    }

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Classifies an SDK failure of `action` in `region`.
    pub(crate) fn from_sdk<E, R>(action: &'static str, region: &str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let region = region.to_owned();
        match err.code() {
            Some(code) if THROTTLING_CODES.contains(&code) => Error::Throttled { action, region },
            Some(code) if ACCESS_DENIED_CODES.contains(&code) => Error::AccessDenied {
                action,
                region,
                code: code.to_owned(),
                message: err.message().unwrap_or_default().to_owned(),
            },
            Some(code) => Error::Ec2 {
                action,
                region,
                code: code.to_owned(),
                message: err.message().unwrap_or_default().to_owned(),
            },
            None => Error::Ec2Unreachable {
                action,
                region,
                message: aws_smithy_types::error::display::DisplayErrorContext(&err).to_string(),
            },
        }
    }
}

/// DynamoDB's codes for a refused call.
const DYNAMODB_DENIED_CODES: &[&str] = &["AccessDeniedException", "UnrecognizedClientException"];

impl Error {
    /// Classifies a DynamoDB failure of `action` on the state table `table`.
    pub(crate) fn from_state_table<E, R>(action: &'static str, table: &str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let message = err
            .message()
            .map(str::to_owned)
            .unwrap_or_else(|| aws_smithy_types::error::display::DisplayErrorContext(&err).to_string());
        match err.code() {
            Some(code) if DYNAMODB_DENIED_CODES.contains(&code) => Error::StateTableDenied {
                action,
                table: table.to_owned(),
                message,
            },
            code => Error::StateTable {
                action,
                table: table.to_owned(),
                code: code.unwrap_or("unreachable").to_owned(),
                message,
            },
        }
    }
}

impl From<Error> for Diagnostic {
    fn from(err: Error) -> Self {
        Diagnostic {
            error_type: err.error_type().to_owned(),
            error_message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ec2(code: &str) -> Error {
        Error::Ec2 {
            action: "EnableTransitGatewayRouteTablePropagation",
            region: "us-east-1".into(),
            code: code.into(),
            message: String::new(),
        }
    }

    #[test]
    fn a_client_error_made_no_change_and_a_server_error_or_no_answer_may_have() {
        assert!(ec2("IncorrectState").made_no_change());
        assert!(Error::Throttled {
            action: "CreateTags",
            region: "us-east-1".into()
        }
        .made_no_change());
        assert!(!ec2("InternalError").made_no_change());
        assert!(!ec2("Unavailable").made_no_change());
        assert!(!Error::Ec2Unreachable {
            action: "CreateTags",
            region: "us-east-1".into(),
            message: "timeout".into()
        }
        .made_no_change());
    }
}
