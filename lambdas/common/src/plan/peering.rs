//! Peering attachments as plain data, and the pure decisions about them.

use crate::contract::request::ResolvedRequest;
use crate::error::{Error, Result};
use crate::plan::attachment::AttachmentState;

/// The value of the `tgw-peering:managed-by` tag on attachments this tool creates.
pub const TOOL_NAME: &str = "tgw-peering";
pub const MANAGED_BY_TAG: &str = "tgw-peering:managed-by";

/// One end of a peering: a transit gateway in a Region, owned by an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TgwEnd {
    pub transit_gateway_id: String,
    pub region: String,
    pub owner_id: Option<String>,
}

impl TgwEnd {
    fn is(&self, transit_gateway_id: &str, region: &str) -> bool {
        self.transit_gateway_id == transit_gateway_id && self.region == region
    }
}

/// A transit gateway peering attachment as one Region reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeeringAttachment {
    pub id: String,
    pub state: AttachmentState,
    pub requester: TgwEnd,
    pub accepter: TgwEnd,
    /// Creation time as (seconds, nanoseconds) since the Unix epoch.
    pub created_at: Option<(i64, u32)>,
    pub tags: Vec<(String, String)>,
}

impl PeeringAttachment {
    /// True when this tool created the attachment, as its creation tags say.
    pub fn is_managed(&self) -> bool {
        self.tags
            .iter()
            .any(|(key, value)| key == MANAGED_BY_TAG && value == TOOL_NAME)
    }

    /// Refuses an attachment that belongs to another peering: acting on it would report, or
    /// route over, the wrong link.
    pub fn check_joins(&self, request: &ResolvedRequest) -> Result<()> {
        let active = (
            request.active_transit_gateway_id.as_str(),
            request.active_region.as_str(),
        );
        let passive = (
            request.passive_transit_gateway_id.as_str(),
            request.passive_region.as_str(),
        );
        if self.connects(active, passive) {
            return Ok(());
        }
        Err(Error::invalid(
            "attachmentId",
            format!(
                "is {}, which joins {} ({}) and {} ({}), not the requested transit gateways; pass `peer`'s output unchanged",
                self.id,
                self.requester.transit_gateway_id,
                self.requester.region,
                self.accepter.transit_gateway_id,
                self.accepter.region
            ),
        ))
    }

    /// True when the attachment joins exactly these two gateways, in either direction.
    pub fn connects(&self, a: (&str, &str), b: (&str, &str)) -> bool {
        (self.requester.is(a.0, a.1) && self.accepter.is(b.0, b.1))
            || (self.requester.is(b.0, b.1) && self.accepter.is(a.0, a.1))
    }
}

/// The live peering between two gateways to reuse, if any: matched on both ends client-side
/// (server-side filters are a convenience, not a guarantee). When races left more than one, the
/// oldest wins, then the smallest id, so every caller picks the same one.
pub fn select_existing<'a>(
    attachments: &'a [PeeringAttachment],
    a: (&str, &str),
    b: (&str, &str),
) -> Option<&'a PeeringAttachment> {
    attachments
        .iter()
        .filter(|attachment| attachment.state.is_live() && attachment.connects(a, b))
        .min_by(|x, y| {
            let key = |p: &PeeringAttachment| (p.created_at.unwrap_or((i64::MAX, 0)), p.id.clone());
            key(x).cmp(&key(y))
        })
}

/// What to do about the live peerings between two gateways when a race left more than one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deduplication<'a> {
    /// The one to keep and report: [`select_existing`]'s pick, the same for every caller.
    pub keep: &'a PeeringAttachment,
    /// Later duplicates this tool created (by their tags): safe to delete.
    pub delete: Vec<&'a PeeringAttachment>,
    /// Later duplicates someone else created: never touched, only reported.
    pub foreign: Vec<&'a PeeringAttachment>,
}

/// Decides which live peering between `a` and `b` survives a race. Every caller, whatever order
/// EC2 lists them in, keeps the same one; only duplicates this tool created are deleted.
pub fn deduplicate<'a>(
    attachments: &'a [PeeringAttachment],
    a: (&str, &str),
    b: (&str, &str),
) -> Option<Deduplication<'a>> {
    let keep = select_existing(attachments, a, b)?;
    let (delete, foreign) = attachments
        .iter()
        .filter(|other| other.id != keep.id && other.state.is_live() && other.connects(a, b))
        .partition(|other| other.is_managed());
    Some(Deduplication {
        keep,
        delete,
        foreign,
    })
}

/// Tags put on a peering attachment this tool creates.
pub fn creation_tags(requester_tgw: &str, accepter_tgw: &str) -> Vec<(String, String)> {
    vec![
        (
            "Name".to_owned(),
            format!("{TOOL_NAME} {requester_tgw} <> {accepter_tgw}"),
        ),
        (MANAGED_BY_TAG.to_owned(), TOOL_NAME.to_owned()),
        (
            "tgw-peering:requester-transit-gateway".to_owned(),
            requester_tgw.to_owned(),
        ),
        (
            "tgw-peering:accepter-transit-gateway".to_owned(),
            accepter_tgw.to_owned(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: (&str, &str) = ("tgw-aaaaaaaa", "us-east-1");
    const B: (&str, &str) = ("tgw-bbbbbbbb", "eu-west-1");

    fn attachment(
        id: &str,
        from: (&str, &str),
        to: (&str, &str),
        state: &str,
        created: i64,
    ) -> PeeringAttachment {
        let end = |(tgw, region): (&str, &str)| TgwEnd {
            transit_gateway_id: tgw.into(),
            region: region.into(),
            owner_id: Some("123456789012".into()),
        };
        PeeringAttachment {
            id: id.into(),
            state: AttachmentState::parse(state),
            requester: end(from),
            accepter: end(to),
            created_at: Some((created, 0)),
            tags: vec![],
        }
    }

    #[test]
    fn given_a_peering_in_the_reverse_direction_then_it_is_reused() {
        let all = [attachment("tgw-attach-1", B, A, "available", 1)];
        assert_eq!(
            select_existing(&all, A, B).map(|p| p.id.as_str()),
            Some("tgw-attach-1")
        );
    }

    #[test]
    fn given_only_dead_peerings_then_none_is_reused() {
        let all = [
            attachment("tgw-attach-1", A, B, "rejected", 1),
            attachment("tgw-attach-2", A, B, "failed", 2),
            attachment("tgw-attach-3", A, B, "deleted", 3),
        ];
        assert_eq!(select_existing(&all, A, B), None);
    }

    #[test]
    fn given_peerings_to_other_gateways_or_regions_then_none_is_reused() {
        let all = [
            attachment("tgw-attach-1", A, ("tgw-cccccccc", "eu-west-1"), "available", 1),
            attachment("tgw-attach-2", A, ("tgw-bbbbbbbb", "eu-west-2"), "available", 1),
        ];
        assert_eq!(select_existing(&all, A, B), None);
    }

    #[test]
    fn given_duplicates_from_a_race_then_the_oldest_wins_for_every_caller() {
        let all = [
            attachment("tgw-attach-2", A, B, "pendingAcceptance", 20),
            attachment("tgw-attach-9", B, A, "initiatingRequest", 10),
            attachment("tgw-attach-1", A, B, "pendingAcceptance", 20),
        ];
        assert_eq!(select_existing(&all, A, B).unwrap().id, "tgw-attach-9");
        let mut reversed = all.clone();
        reversed.reverse();
        assert_eq!(select_existing(&reversed, B, A).unwrap().id, "tgw-attach-9");
    }

    fn managed(mut attachment: PeeringAttachment) -> PeeringAttachment {
        attachment.tags = creation_tags(A.0, B.0);
        attachment
    }

    #[test]
    fn given_two_managed_peerings_from_a_race_then_the_younger_is_deleted_and_the_older_kept() {
        let all = [
            managed(attachment("tgw-attach-2", A, B, "initiatingRequest", 20)),
            managed(attachment("tgw-attach-1", A, B, "pendingAcceptance", 10)),
        ];
        let plan = deduplicate(&all, A, B).unwrap();
        assert_eq!(plan.keep.id, "tgw-attach-1");
        assert_eq!(
            plan.delete.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
            ["tgw-attach-2"]
        );
        assert!(plan.foreign.is_empty());
    }

    #[test]
    fn given_a_younger_duplicate_someone_else_created_then_it_is_reported_and_never_deleted() {
        let all = [
            managed(attachment("tgw-attach-1", A, B, "available", 10)),
            attachment("tgw-attach-2", B, A, "pendingAcceptance", 20),
        ];
        let plan = deduplicate(&all, A, B).unwrap();
        assert_eq!(plan.keep.id, "tgw-attach-1");
        assert!(plan.delete.is_empty());
        assert_eq!(
            plan.foreign.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
            ["tgw-attach-2"]
        );
    }

    #[test]
    fn given_a_foreign_peering_is_the_oldest_then_it_is_kept_and_ours_is_the_one_deleted() {
        let all = [
            managed(attachment("tgw-attach-2", A, B, "initiatingRequest", 20)),
            attachment("tgw-attach-1", A, B, "available", 10),
        ];
        let plan = deduplicate(&all, A, B).unwrap();
        assert_eq!(plan.keep.id, "tgw-attach-1");
        assert_eq!(
            plan.delete.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
            ["tgw-attach-2"]
        );
    }

    #[test]
    fn given_dead_or_unrelated_managed_peerings_then_nothing_is_deleted() {
        let all = [
            managed(attachment("tgw-attach-1", A, B, "available", 10)),
            managed(attachment("tgw-attach-2", A, B, "deleted", 20)),
            managed(attachment(
                "tgw-attach-3",
                A,
                ("tgw-cccccccc", "eu-west-1"),
                "available",
                30,
            )),
        ];
        let plan = deduplicate(&all, A, B).unwrap();
        assert!(plan.delete.is_empty() && plan.foreign.is_empty());
        assert_eq!(deduplicate(&all[1..2], A, B), None);
    }

    #[test]
    fn creation_tags_mark_the_attachment_as_managed_and_name_both_gateways() {
        let tags = creation_tags(A.0, B.0);
        assert!(tags.contains(&(MANAGED_BY_TAG.to_owned(), TOOL_NAME.to_owned())));
        assert!(tags.iter().any(|(_, value)| value == A.0));
        assert!(tags.iter().any(|(_, value)| value == B.0));
    }
}
