//! The one value that flows through the state machine: the request, then everything each function
//! adds to it. Every function takes a [`PeeringState`] and returns one.
//!
//! It is a flat record of optional fields, because that is what the contract is: `peer` is given a
//! bare request (`{}` is valid), and each later state adds its own keys. A field left out stays
//! left out, a `null` stays `null`, and keys the tool does not own (`other`) are carried through,
//! so a round trip through Step Functions loses nothing. The typed views the functions work on
//! ([`crate::contract::request::PeeringRequest`], [`crate::contract::request::ResolvedRequest`])
//! are read from it with errors that name the field.
//!
//! Decoding goes through `serde_path_to_error`, so a wrong type is reported at its full path
//! (`extraCidrs.passive[1]`). Only `other` is flattened: a flattened struct would hide the paths.

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::contract::request::{Action, PeerPlan};
use crate::contract::validate::echo;
use crate::error::{Error, Result};
use crate::plan::association::AssociationReport;
use crate::plan::attachment::Phase;
use crate::plan::mesh::MeshPeerSide;
use crate::plan::notice::Notice;
use crate::plan::reachability::Reachability;
use crate::plan::report::{PlanReport, RoutesReport};
use crate::plan::teardown::TeardownReport;

/// Requests larger than this are refused before anything else is looked at. A real request is a
/// few hundred bytes; the cap keeps a runaway payload out of logs and memory.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// The state the functions hand each other may be larger than a request: a long run carries its
/// reports (whose lists are capped) from pass to pass. It is at most Step Functions' payload
/// quota, 256 KiB; nothing larger could have come through the state machine.
pub const MAX_STATE_BYTES: usize = 256 * 1024;

/// The execution state, as the functions hand it to each other.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeeringState {
    // The request: as given to `peer`, and resolved (every field set) from its output on.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "text")]
    pub active_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "text")]
    pub passive_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "text")]
    pub active_transit_gateway_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "text")]
    pub passive_transit_gateway_id: Option<String>,
    /// The outbound tables named on each side: one id, or a list of them.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "route_tables"
    )]
    pub active_route_table_id: Option<RouteTableIds>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "route_tables"
    )]
    pub passive_route_table_id: Option<RouteTableIds>,
    /// The table the peering attachment is associated with on each side (default: the named
    /// route table, else the gateway's association default route table).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "text")]
    pub active_peering_route_table_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "text")]
    pub passive_peering_route_table_id: Option<String>,
    /// Move a peering associated with another table to the peering route table.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "flag")]
    pub move_peering_association: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "text")]
    pub vpc_tag_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "flag")]
    pub vpc_routes: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "flag")]
    pub propagated_cidrs: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "flag")]
    pub summarize_routes: Option<bool>,
    /// Enable propagation of the tagged VPCs' attachments into the peering's route table where
    /// traffic arriving over the peering has no route to them.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "flag")]
    pub return_propagation: Option<bool>,
    /// Also remove the routes this tool created that are no longer wanted.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "flag")]
    pub prune: Option<bool>,
    /// The largest share (percent) of the tool's routes one run may prune unconfirmed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "prune_threshold"
    )]
    pub prune_threshold: Option<u8>,
    /// The exact number of removals a refused prune named, to let it through.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "confirm_prune"
    )]
    pub confirm_prune: Option<u64>,
    /// How many pairs of a mesh share each Region's route-write pace: this pair writes at
    /// `1/routeWriteShare` of it. The mesh sets it; a lone pair leaves it out (1).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "route_write_share"
    )]
    pub route_write_share: Option<u32>,
    /// A mesh pair's view of the whole mesh: every side, which the pair re-reads before it writes
    /// to check its own sides' CIDRs against them. The mesh sets it; a lone pair has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh_sides: Option<Vec<MeshPeerSide>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_cidrs: Option<ExtraCidrsField>,
    /// What the reachability walk holds network ACLs to; checked by the request
    /// (`contract::request`), kept here as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_acl_traffic: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "flag")]
    pub dry_run: Option<bool>,
    /// The active transit gateway's account and the role every active-side call is made as,
    /// when that is not the functions' own account (a mesh pair of two other accounts' sides).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "text")]
    pub active_account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "text")]
    pub active_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "text")]
    pub passive_account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "text")]
    pub passive_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "action")]
    pub action: Option<Action>,

    // What `peer` and `get-status` add.
    /// `null` in a dry run or teardown where no peering exists.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable_text"
    )]
    pub attachment_id: Option<Option<String>>,
    /// The id the passive side knows the attachment by, when it is not `attachmentId`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "text")]
    pub passive_attachment_id: Option<String>,
    /// The attachment's state in the active Region, spelt as EC2 spells it (or `absent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The attachment's state in the passive Region; `null` while that side cannot see it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable"
    )]
    pub passive_status: Option<Option<String>>,
    /// What `status` means for the workflow (`plan/attachment.rs`): the state machine branches on
    /// this, never on an EC2 state name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_duplicates: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peering_plan: Option<Report<PeerPlan>>,

    // What `modify-routes` adds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peering_association: Option<Report<AssociationReport>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Report<RoutesReport>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_plan: Option<Report<PlanReport>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reachability: Option<Report<Reachability>>,
    /// What an operator should look at (conflicts, unreachable pairs, routes a teardown left
    /// alone); absent when nothing. The state machine publishes it when notifications are on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<Report<Notice>>,

    // What a teardown adds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown: Option<Report<TeardownReport>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes_removed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peering_deleted: Option<bool>,
    /// Why a teardown left the peering in place; `null` when it did not.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable"
    )]
    pub peering_kept: Option<Option<String>>,

    /// Keys the tool does not own (the console's `Comment`, a caller's own), carried through.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A report this version wrote, or one it cannot read (an older version's, or a caller's),
/// carried through unchanged either way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Report<T> {
    Known(T),
    Unreadable(Value),
}

impl<T> Report<T> {
    pub fn known(&self) -> Option<&T> {
        match self {
            Report::Known(report) => Some(report),
            Report::Unreadable(_) => None,
        }
    }
}

impl<T: DeserializeOwned> Report<T> {
    /// Why an unreadable report cannot be read: the decoder's own words.
    pub fn why_unreadable(&self) -> Option<String> {
        match self {
            Report::Known(_) => None,
            Report::Unreadable(raw) => serde_json::from_value::<T>(raw.clone())
                .err()
                .map(|err| err.to_string()),
        }
    }
}

/// `<side>RouteTableId` as written: one route table id, or a list of them (the tables that get
/// the routes to the remote side). Ids are checked when the request is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum RouteTableIds {
    One(String),
    Many(Vec<String>),
}

impl RouteTableIds {
    /// The ids, in the order given.
    pub fn ids(&self) -> &[String] {
        match self {
            Self::One(id) => std::slice::from_ref(id),
            Self::Many(ids) => ids,
        }
    }

    /// The field an id is named by in an error: `activeRouteTableId`, or `activeRouteTableId[1]`
    /// in the list form.
    pub fn field_of(&self, field: &str, index: usize) -> String {
        match self {
            Self::One(_) => field.to_owned(),
            Self::Many(_) => format!("{field}[{index}]"),
        }
    }
}

const ROUTE_TABLE_IDS_SHAPE: &str = "a route table id or a list of them";

impl<'de> Deserialize<'de> for RouteTableIds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Ids;
        impl<'de> Visitor<'de> for Ids {
            type Value = RouteTableIds;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(ROUTE_TABLE_IDS_SHAPE)
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                Ok(RouteTableIds::One(value.to_owned()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "is null; give {ROUTE_TABLE_IDS_SHAPE}, or leave the field out to route every \
                     table the tagged VPCs' attachments use"
                )))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "must be {ROUTE_TABLE_IDS_SHAPE}, not a boolean"
                )))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "must be {ROUTE_TABLE_IDS_SHAPE}, not a number"
                )))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "must be {ROUTE_TABLE_IDS_SHAPE}, not a number"
                )))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "must be {ROUTE_TABLE_IDS_SHAPE}, not a number"
                )))
            }
            fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
                Err(de::Error::custom(format!(
                    "must be {ROUTE_TABLE_IDS_SHAPE}, not an object"
                )))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut ids = Vec::new();
                while let Some(TableIdText(id)) = seq.next_element()? {
                    ids.push(id);
                }
                if ids.is_empty() {
                    return Err(de::Error::custom(
                        "is an empty list; name at least one route table, or leave the field out \
                         to route every table the tagged VPCs' attachments use",
                    ));
                }
                Ok(RouteTableIds::Many(ids))
            }
        }
        deserializer.deserialize_any(Ids)
    }
}

struct TableIdText(String);

impl<'de> Deserialize<'de> for TableIdText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        list_item(deserializer, "a route table id string").map(TableIdText)
    }
}

/// One item of a list of strings; `what` names what it must be in the error.
fn list_item<'de, D: Deserializer<'de>>(deserializer: D, what: &str) -> Result<String, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(value) => Ok(value),
        other => Err(de::Error::custom(format!(
            "must be {what}, not {}",
            json_type(&other)
        ))),
    }
}

/// `extraCidrs` as written: each side a list of CIDR strings, checked when the request is read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExtraCidrsField {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passive: Option<Vec<String>>,
    /// Keys that are not a side: refused when the request is read, naming the key.
    #[serde(skip)]
    pub unknown: Vec<String>,
}

/// What a JSON value is, for an error message: "a number", "an object".
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string field: `null` is refused (leave the field out instead), as is any other kind.
fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(value) => Ok(Some(value)),
        Value::Null => Err(de::Error::custom(
            "is null; give a string, or leave the field out to use its default",
        )),
        other => Err(de::Error::custom(format!(
            "must be a string, not {}",
            json_type(&other)
        ))),
    }
}

/// `<side>RouteTableId`: `null` is refused like any other kind but a string or a list.
fn route_tables<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<RouteTableIds>, D::Error> {
    RouteTableIds::deserialize(deserializer).map(Some)
}

/// A string field that may be `null`.
fn nullable_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(value) => Ok(Some(Some(value))),
        Value::Null => Ok(Some(None)),
        other => Err(de::Error::custom(format!(
            "must be a string, not {}",
            json_type(&other)
        ))),
    }
}

/// Any field that may be `null`, kept apart from one left out.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A true/false field: `null` is refused, as is any other kind.
fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Bool(value) => Ok(Some(value)),
        Value::Null => Err(de::Error::custom(
            "is null; give true or false, or leave the field out to use its default",
        )),
        other => Err(de::Error::custom(format!(
            "must be true or false, not {}",
            json_type(&other)
        ))),
    }
}

/// A whole number of at most `max`; `what` says what it must be in the error.
fn whole_number<'de, D: Deserializer<'de>>(deserializer: D, what: &str, max: u64) -> Result<u64, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Number(number) => match number.as_u64() {
            Some(value) if value <= max => Ok(value),
            _ => Err(de::Error::custom(format!("is {number}; it must be {what}"))),
        },
        Value::Null => Err(de::Error::custom(format!(
            "is null; give {what}, or leave the field out"
        ))),
        other => Err(de::Error::custom(format!(
            "must be {what}, not {}",
            json_type(&other)
        ))),
    }
}

fn prune_threshold<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u8>, D::Error> {
    let percent = whole_number(
        deserializer,
        "a whole number of percent from 0 to 100, such as 25",
        100,
    )?;
    Ok(Some(u8::try_from(percent).unwrap_or(100)))
}

fn confirm_prune<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    whole_number(
        deserializer,
        "the number of routes a refused prune named (its error says it), such as 12",
        u64::from(u32::MAX),
    )
    .map(Some)
}

fn route_write_share<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    let share = whole_number(
        deserializer,
        "the number of mesh pairs sharing a Region's write pace, such as 3",
        u64::from(MAX_ROUTE_WRITE_SHARE),
    )?;
    if share == 0 {
        return Err(de::Error::custom(
            "is 0; use 1 or more (the number of mesh pairs sharing a Region's write pace)",
        ));
    }
    Ok(Some(u32::try_from(share).expect("capped above")))
}

/// A mesh of 64 Regions has 63 pairs touching each Region; more than that is not a mesh.
pub const MAX_ROUTE_WRITE_SHARE: u32 = 64;

fn action<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Action>, D::Error> {
    let value = text(deserializer)?.unwrap_or_default();
    Action::parse(&value).map(Some).ok_or_else(|| {
        de::Error::custom(format!(
            "is {}; use \"setup\" (the default) or \"teardown\"",
            echo(&value)
        ))
    })
}

/// Refuses every JSON kind but the one a visitor takes, in the words the other fields use.
macro_rules! refuse_other_kinds {
    ($expected:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(E::custom(format!("must be {}, not a boolean", $expected)))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(E::custom(format!("must be {}, not a number", $expected)))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(E::custom(format!("must be {}, not a number", $expected)))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(E::custom(format!("must be {}, not a number", $expected)))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Err(E::custom(format!("must be {}, not a string", $expected)))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Err(E::custom(format!("must be {}, not null", $expected)))
        }
    };
}

const EXTRA_CIDRS_SHAPE: &str = "an object such as {\"active\": [\"192.168.0.0/16\"], \"passive\": []}";

impl<'de> Deserialize<'de> for ExtraCidrsField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Sides;
        impl<'de> Visitor<'de> for Sides {
            type Value = ExtraCidrsField;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(EXTRA_CIDRS_SHAPE)
            }
            refuse_other_kinds!(EXTRA_CIDRS_SHAPE);
            fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
                Err(de::Error::custom(format!(
                    "must be {EXTRA_CIDRS_SHAPE}, not an array"
                )))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut sides = ExtraCidrsField::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "active" => sides.active = Some(map.next_value::<CidrTexts>()?.0),
                        "passive" => sides.passive = Some(map.next_value::<CidrTexts>()?.0),
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                            sides.unknown.push(key);
                        }
                    }
                }
                Ok(sides)
            }
        }
        deserializer.deserialize_any(Sides)
    }
}

/// One side of `extraCidrs`: a list of strings, each checked as a CIDR later.
struct CidrTexts(Vec<String>);

impl<'de> Deserialize<'de> for CidrTexts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct List;
        impl<'de> Visitor<'de> for List {
            type Value = CidrTexts;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of CIDR strings")
            }
            refuse_other_kinds!("a list of CIDR strings");
            fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
                Err(de::Error::custom("must be a list of CIDR strings, not an object"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(CidrText(item)) = seq.next_element()? {
                    items.push(item);
                }
                Ok(CidrTexts(items))
            }
        }
        deserializer.deserialize_any(List)
    }
}

struct CidrText(String);

impl<'de> Deserialize<'de> for CidrText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        list_item(deserializer, "a CIDR string").map(CidrText)
    }
}

/// Refuses a request over [`MAX_REQUEST_BYTES`]; `whole` names it in the error.
pub fn check_size(bytes: usize, whole: &str) -> Result<()> {
    if bytes > MAX_REQUEST_BYTES {
        return Err(Error::invalid(
            whole,
            format!(
                "is {bytes} bytes; the limit is {MAX_REQUEST_BYTES} bytes, so send only the request fields"
            ),
        ));
    }
    Ok(())
}

/// Refuses a payload over [`MAX_STATE_BYTES`]; `whole` names it in the error.
pub fn check_state_size(bytes: usize, whole: &str) -> Result<()> {
    if bytes > MAX_STATE_BYTES {
        return Err(Error::invalid(
            whole,
            format!(
                "is {bytes} bytes; the limit is {MAX_STATE_BYTES} bytes (Step Functions' payload \
                 quota), so pass a function's output on unchanged, or send only the request fields"
            ),
        ));
    }
    Ok(())
}

fn json_size<T: Serialize>(value: &T) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |bytes| bytes.len())
}

/// Reads a function's payload as JSON: within the state's size cap, and no deeper than the JSON
/// reader allows (a payload nested deeper is refused as input, not as a runtime failure).
pub fn parse_payload(raw: &str, whole: &str) -> Result<Value> {
    check_state_size(raw.len(), whole)?;
    serde_json::from_str(raw).map_err(|err| {
        Error::invalid(
            whole,
            format!("cannot be read as JSON ({err}); send a JSON object of the documented fields"),
        )
    })
}

impl PeeringState {
    /// Records the attachment's state (an EC2 state, or `absent`) and its phase, always together.
    pub fn set_status(&mut self, status: String) {
        self.phase = Some(Phase::of_status(&status));
        self.status = Some(status);
    }

    /// Decodes one JSON object as the state; `prefix` (`detail.` in an EventBridge event) is put
    /// before every field an error names.
    pub fn decode(object: &Value, whole: &str, prefix: &str) -> Result<Self> {
        if !object.is_object() {
            return Err(Error::invalid(
                whole,
                format!("must be a JSON object, not {}", json_type(object)),
            ));
        }
        serde_path_to_error::deserialize(object).map_err(|err| {
            let field = format!("{prefix}{}", err.path());
            Error::invalid(field, err.into_inner().to_string())
        })
    }

    /// Decodes the input of `get-status` and `modify-routes` (`peer`'s output), within the size cap.
    pub fn decode_input(input: &Value) -> Result<Self> {
        check_state_size(json_size(input), "(input)")?;
        Self::decode(input, "(input)", "")
    }

    /// The size of the request this state carries: the fields a caller sends (and keys the tool
    /// does not own), without what the functions added. A request is capped at
    /// [`MAX_REQUEST_BYTES`] whatever reports travel with it.
    pub fn request_bytes(&self) -> usize {
        json_size(&PeeringState {
            attachment_id: None,
            passive_attachment_id: None,
            status: None,
            passive_status: None,
            created: None,
            accepted: None,
            removed_duplicates: None,
            peering_plan: None,
            peering_association: None,
            routes: None,
            route_plan: None,
            warnings: None,
            reachability: None,
            notice: None,
            teardown: None,
            routes_removed: None,
            peering_deleted: None,
            peering_kept: None,
            ..self.clone()
        })
    }

    /// The attachment id, when the state names one.
    pub fn attachment(&self) -> Option<&str> {
        self.attachment_id.as_ref().and_then(Option::as_deref)
    }

    /// The keys of `other`, as a warning names them: `detail."Comment"`.
    pub fn unknown_fields(&self, prefix: &str) -> Vec<String> {
        self.other
            .keys()
            .map(|key| format!("{prefix}{}", echo(key)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(value: &Value) -> Value {
        let state = PeeringState::decode(value, "(input)", "").unwrap_or_else(|err| panic!("{err}: {value}"));
        serde_json::to_value(&state).unwrap()
    }

    /// The repository's prose: README.md and every page of the book under docs/.
    fn documentation_pages() -> Vec<std::path::PathBuf> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut pages = vec![root.join("README.md")];
        let mut folders = vec![root.join("docs")];
        while let Some(folder) = folders.pop() {
            for entry in
                std::fs::read_dir(&folder).unwrap_or_else(|err| panic!("{err}: {}", folder.display()))
            {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                } else if path.extension().is_some_and(|ext| ext == "md") {
                    pages.push(path);
                }
            }
        }
        pages
    }

    /// Every ```json block of the README and the book: requests, outputs and fragments of outputs alike.
    fn documented_examples() -> Vec<(String, Value)> {
        let mut examples = Vec::new();
        for page in documentation_pages() {
            let text = std::fs::read_to_string(&page).unwrap();
            for block in text.split("```json").skip(1) {
                let block = block.split("```").next().unwrap_or_default();
                let example = serde_json::from_str(block)
                    .unwrap_or_else(|err| panic!("{}: {err}: {block}", page.display()));
                examples.push((page.display().to_string(), example));
            }
        }
        examples
    }

    #[test]
    fn every_json_example_in_the_book_round_trips_unchanged() {
        let examples = documented_examples();
        assert!(examples.len() >= 15, "{} examples", examples.len());
        for (page, example) in examples {
            assert_eq!(round_trip(&example), example, "{page}");
        }
    }

    #[test]
    fn nulls_stay_null_absent_fields_stay_absent_and_unknown_keys_are_carried() {
        for value in [
            json!({}),
            json!({"attachmentId": null, "status": "absent", "Comment": "x"}),
            json!({"passiveStatus": null, "peeringKept": null, "teardown": {"active": null, "passive": null, "vpcRouteTables": []}}),
            json!({"routes": {"complete": false, "whatever": 1}, "mine": {"deep": [1, 2]}}),
            json!({"extraCidrs": {"active": [" 10.0.0.0/8"]}, "dryRun": true, "action": "teardown"}),
        ] {
            assert_eq!(round_trip(&value), value);
        }
    }

    #[test]
    fn a_wrong_kind_is_named_at_its_full_path() {
        let cases = [
            (
                json!({"activeRegion": 42}),
                "activeRegion",
                "must be a string, not a number",
            ),
            (json!({"activeRegion": null}), "activeRegion", "is null"),
            (
                json!({"dryRun": "yes"}),
                "dryRun",
                "must be true or false, not a string",
            ),
            (
                json!({"extraCidrs": []}),
                "extraCidrs",
                "must be an object such as",
            ),
            (
                json!({"extraCidrs": {"active": "10.0.0.0/8"}}),
                "extraCidrs.active",
                "list of CIDR strings",
            ),
            (
                json!({"extraCidrs": {"passive": ["10.0.0.0/8", 7]}}),
                "extraCidrs.passive[1]",
                "CIDR string, not a number",
            ),
            (json!({"action": "destroy"}), "action", "\"destroy\""),
            (json!({"attachmentId": 7}), "attachmentId", "must be a string"),
        ];
        for (input, field, reason) in cases {
            match PeeringState::decode(&input, "(request)", "") {
                Err(Error::InvalidInput {
                    field: got,
                    reason: why,
                }) => {
                    assert_eq!(got, field, "{input}");
                    assert!(why.contains(reason), "{input}: {why}");
                }
                other => panic!("{input}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_payload_nested_deeper_than_the_reader_allows_is_invalid_input() {
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        match parse_payload(&deep, "(request)") {
            Err(Error::InvalidInput { field, reason }) => {
                assert_eq!(field, "(request)");
                assert!(reason.contains("recursion limit"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_oversized_payload_is_refused_before_it_is_read() {
        let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(MAX_STATE_BYTES));
        assert!(matches!(
            parse_payload(&big, "(request)"),
            Err(Error::InvalidInput { .. })
        ));
    }

    #[test]
    fn a_state_whose_reports_pass_the_request_cap_is_read_but_a_request_that_does_is_not() {
        let listed: Vec<String> = (0..3000)
            .map(|i| format!("warning {i:05} about a table"))
            .collect();
        let state = serde_json::json!({"activeRegion": "us-east-1", "warnings": listed});
        let raw = state.to_string();
        assert!(raw.len() > MAX_REQUEST_BYTES && raw.len() < MAX_STATE_BYTES);
        let read = PeeringState::decode_input(&parse_payload(&raw, "(input)").unwrap()).unwrap();
        assert!(read.request_bytes() < 100, "{}", read.request_bytes());
        let padded = serde_json::json!({"pad": "x".repeat(MAX_REQUEST_BYTES)});
        let decoded = PeeringState::decode(&padded, "(request)", "").unwrap();
        assert!(
            decoded.request_bytes() > MAX_REQUEST_BYTES,
            "unknown keys count as the request's"
        );
    }
}
