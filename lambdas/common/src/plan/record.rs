//! The record of the routes this tool created, so that teardown and prune remove exactly those
//! and never guess. Pure: items and tags in, CIDRs out, and back.
//!
//! The record lives in the stack's state table (DynamoDB), one partition per side and peering
//! attachment ([`partition`]), so one Query reads every table's record of a side. A table's
//! record is one or more items, sort key `<route-table-id>#<n>`, whose `cidrs` attribute lists
//! the CIDRs, space-separated, in address order; an item holds up to [`MAX_ITEM_TEXT`] bytes of
//! them (DynamoDB allows 400 KB an item), about 20,000 IPv4 or 14,000 IPv6 routes.
//!
//! Earlier versions kept the record in tags on each route table: one or more tags
//! `tgw-peering:routes:<attachment-id>:<n>`. Those are still read ([`recorded`]), merged into
//! the table's record, and deleted once the state table holds them (the migration).
//!
//! The record of the propagations `returnPropagation` enabled stays in tags: it lists attachment
//! ids, bounded by the gateway's attachments, not routes.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;

/// Every record tag's key starts with this.
pub const RECORD_PREFIX: &str = "tgw-peering:routes:";

/// EC2's limits on tags.
pub const MAX_TAG_VALUE: usize = 256;
pub const MAX_TAGS: usize = 50;

/// Bytes of CIDR text in one record item: DynamoDB allows 400 KB an item, keys and attribute
/// names included, and a table's items are replaced in one transaction of at most 4 MB.
pub const MAX_ITEM_TEXT: usize = 350_000;

/// A table's record may span at most this many items (one transaction replaces them all, and a
/// transaction holds at most 100 actions and 4 MB): about 200,000 IPv4 routes.
pub const MAX_ITEMS: usize = 11;

fn key_prefix(attachment_id: &str) -> String {
    format!("{RECORD_PREFIX}{attachment_id}:")
}

/// The tag key of a record's first chunk; every record has one, so it finds recorded tables.
pub fn first_key(attachment_id: &str) -> String {
    format!("{}1", key_prefix(attachment_id))
}

/// `items`, space-separated, in strings of at most `max` bytes.
fn chunks_of(max: usize, items: impl Iterator<Item = String>) -> Vec<String> {
    let mut chunks: Vec<String> = Vec::new();
    for text in items {
        match chunks.last_mut() {
            Some(chunk) if chunk.len() + 1 + text.len() <= max => {
                chunk.push(' ');
                chunk.push_str(&text);
            }
            _ => chunks.push(text),
        }
    }
    chunks
}

/// `items`, space-separated, as tags `<prefix><n>` whose values fit EC2's limit.
fn chunked(prefix: &str, items: impl Iterator<Item = String>) -> Vec<(String, String)> {
    chunks_of(MAX_TAG_VALUE, items)
        .into_iter()
        .enumerate()
        .map(|(index, chunk)| (format!("{prefix}{}", index + 1), chunk))
        .collect()
}

fn keys_with(tags: &[(String, String)], prefix: &str) -> Vec<String> {
    tags.iter()
        .filter(|(key, _)| key.starts_with(prefix))
        .map(|(key, _)| key.clone())
        .collect()
}

fn words_with<'a>(tags: &'a [(String, String)], prefix: &'a str) -> impl Iterator<Item = &'a str> {
    tags.iter()
        .filter(move |(key, _)| key.starts_with(prefix))
        .flat_map(|(_, value)| value.split_whitespace())
}

/// The partition key of one side's record of one peering attachment. The Region is part of it
/// because a peering attachment has the same id on both sides.
pub fn partition(region: &str, peering_id: &str) -> String {
    format!("routes#{region}#{peering_id}")
}

/// One item of a table's record in the state table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordItem {
    pub sort_key: String,
    pub route_table_id: String,
    /// The CIDRs, space-separated.
    pub cidrs: String,
}

/// One route table's record of one peering, as read: the CIDRs it lists (from the state table
/// and from tags an earlier version wrote), and where they are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableRecord {
    pub cidrs: BTreeSet<IpNet>,
    /// The sort keys of its items in the state table.
    pub sort_keys: Vec<String>,
    /// The keys of the record tags an earlier version left on the table, to migrate.
    pub legacy_keys: Vec<String>,
}

/// Every table's record of one side and peering, by route table id.
pub type Records = BTreeMap<String, TableRecord>;

/// The items that record `cidrs` for `route_table_id`, each within [`MAX_ITEM_TEXT`].
pub fn record_items(route_table_id: &str, cidrs: &BTreeSet<IpNet>) -> Vec<RecordItem> {
    items_within(MAX_ITEM_TEXT, route_table_id, cidrs)
}

fn items_within(max: usize, route_table_id: &str, cidrs: &BTreeSet<IpNet>) -> Vec<RecordItem> {
    chunks_of(max, cidrs.iter().map(ToString::to_string))
        .into_iter()
        .enumerate()
        .map(|(index, text)| RecordItem {
            sort_key: format!("{route_table_id}#{}", index + 1),
            route_table_id: route_table_id.to_owned(),
            cidrs: text,
        })
        .collect()
}

/// The records the items of one partition hold, by table. Words that are not CIDRs were not
/// written by this tool and are skipped.
pub fn from_items(items: impl IntoIterator<Item = RecordItem>) -> Records {
    let mut records = Records::new();
    for item in items {
        let record = records.entry(item.route_table_id).or_default();
        record.cidrs.extend(
            item.cidrs
                .split_whitespace()
                .filter_map(|word| word.parse::<IpNet>().ok()),
        );
        record.sort_keys.push(item.sort_key);
    }
    records
}

/// Adds to `records` what a table's tags from an earlier version record for `peering_id`.
pub fn merge_legacy(
    records: &mut Records,
    route_table_id: &str,
    tags: &[(String, String)],
    peering_id: &str,
) {
    let keys = record_keys(tags, peering_id);
    if keys.is_empty() {
        return;
    }
    let record = records.entry(route_table_id.to_owned()).or_default();
    record.cidrs.extend(recorded(tags, peering_id));
    record.legacy_keys = keys;
}

/// The record tags an earlier version wrote for `cidrs` created via `attachment_id` (tests
/// seed them to check the migration).
pub fn record_tags(attachment_id: &str, cidrs: &BTreeSet<IpNet>) -> Vec<(String, String)> {
    chunked(&key_prefix(attachment_id), cidrs.iter().map(ToString::to_string))
}

/// The keys of `attachment_id`'s record among `tags`.
pub fn record_keys(tags: &[(String, String)], attachment_id: &str) -> Vec<String> {
    keys_with(tags, &key_prefix(attachment_id))
}

/// The CIDRs `attachment_id`'s record lists. Anything in a record tag that is not a CIDR was not
/// written by this tool and is skipped.
pub fn recorded(tags: &[(String, String)], attachment_id: &str) -> BTreeSet<IpNet> {
    words_with(tags, &key_prefix(attachment_id))
        .filter_map(|text| text.parse::<IpNet>().ok())
        .collect()
}

/// Every propagation record tag's key starts with this. A TGW route table's record of the
/// attachments whose propagation into it this tool enabled for one peering (`returnPropagation`)
/// is one or more tags `tgw-peering:propagations:<peering-id>:<n>`, listing attachment ids,
/// space-separated, in id order (about 8 a tag, so up to about 400 a table).
pub const PROPAGATION_PREFIX: &str = "tgw-peering:propagations:";

fn propagation_prefix(peering_id: &str) -> String {
    format!("{PROPAGATION_PREFIX}{peering_id}:")
}

/// The record tags for the propagations of `attachment_ids` enabled for `peering_id`.
pub fn propagation_tags(peering_id: &str, attachment_ids: &BTreeSet<String>) -> Vec<(String, String)> {
    chunked(&propagation_prefix(peering_id), attachment_ids.iter().cloned())
}

/// The tag writes that make `peering_id`'s propagation record list exactly `attachment_ids`,
/// where its tags now have `current_keys`: the tags to put (EC2's CreateTags overwrites a key
/// that exists), then the keys to delete (chunks a shorter record no longer uses).
pub fn propagation_record_writes(
    current_keys: &[String],
    peering_id: &str,
    attachment_ids: &BTreeSet<String>,
) -> (Vec<(String, String)>, Vec<String>) {
    let put = propagation_tags(peering_id, attachment_ids);
    let delete = current_keys
        .iter()
        .filter(|key| !put.iter().any(|(kept, _)| kept == *key))
        .cloned()
        .collect();
    (put, delete)
}

/// The keys of `peering_id`'s propagation record among `tags`.
pub fn propagation_keys(tags: &[(String, String)], peering_id: &str) -> Vec<String> {
    keys_with(tags, &propagation_prefix(peering_id))
}

/// The attachments `peering_id`'s propagation record lists; words that are not attachment ids
/// were not written by this tool and are skipped.
pub fn recorded_propagations(tags: &[(String, String)], peering_id: &str) -> BTreeSet<String> {
    words_with(tags, &propagation_prefix(peering_id))
        .filter(|word| word.starts_with("tgw-attach-"))
        .map(str::to_owned)
        .collect()
}

/// Whether a table with `tags` can hold the propagation record of `attachment_ids`.
pub fn propagations_fit(
    tags: &[(String, String)],
    peering_id: &str,
    attachment_ids: &BTreeSet<String>,
) -> bool {
    let others = tags.len() - propagation_keys(tags, peering_id).len();
    others + propagation_tags(peering_id, attachment_ids).len() <= MAX_TAGS
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn nets(items: &[&str]) -> BTreeSet<IpNet> {
        items.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn a_record_reads_back_as_written_and_ignores_other_peerings_and_foreign_tags() {
        let mut tags = record_tags("tgw-attach-1", &nets(&["10.2.0.0/16", "10.1.0.0/16"]));
        assert_eq!(
            tags,
            [(
                "tgw-peering:routes:tgw-attach-1:1".to_owned(),
                "10.1.0.0/16 10.2.0.0/16".to_owned()
            )]
        );
        tags.extend(record_tags("tgw-attach-2", &nets(&["10.9.0.0/16"])));
        tags.push(("Name".into(), "prod".into()));
        assert_eq!(
            recorded(&tags, "tgw-attach-1"),
            nets(&["10.1.0.0/16", "10.2.0.0/16"])
        );
        assert_eq!(
            record_keys(&tags, "tgw-attach-1"),
            ["tgw-peering:routes:tgw-attach-1:1"]
        );
        assert!(recorded(&tags, "tgw-attach-3").is_empty());
    }

    #[test]
    fn an_earlier_versions_tag_record_merges_into_the_state_tables_and_names_its_keys() {
        let mut records = from_items(record_items("tgw-rtb-1", &nets(&["10.1.0.0/16"])));
        let mut tags = record_tags("tgw-attach-1", &nets(&["10.2.0.0/16"]));
        tags.push(("Name".into(), "prod".into()));
        merge_legacy(&mut records, "tgw-rtb-1", &tags, "tgw-attach-1");
        merge_legacy(&mut records, "rtb-2", &tags, "tgw-attach-1");
        merge_legacy(&mut records, "rtb-3", &tags, "tgw-attach-other");
        let one = &records["tgw-rtb-1"];
        assert_eq!(one.cidrs, nets(&["10.1.0.0/16", "10.2.0.0/16"]));
        assert_eq!(one.sort_keys, ["tgw-rtb-1#1"]);
        assert_eq!(one.legacy_keys, ["tgw-peering:routes:tgw-attach-1:1"]);
        assert_eq!(records["rtb-2"].sort_keys, Vec::<String>::new());
        assert!(
            !records.contains_key("rtb-3"),
            "another peering's tags are not this record"
        );
    }

    #[test]
    fn ten_thousand_ipv6_routes_fit_one_table_record_within_dynamodbs_limits() {
        let cidrs: BTreeSet<IpNet> = (0..10_000u128)
            .map(|i| {
                IpNet::new(
                    std::net::Ipv6Addr::from((0x2600_1f18_u128 << 96) | (i << 64)).into(),
                    64,
                )
                .unwrap()
            })
            .collect();
        let items = record_items("tgw-rtb-0123456789abcdef0", &cidrs);
        assert!(items.len() <= MAX_ITEMS);
        assert!(items.iter().all(|item| item.cidrs.len() <= MAX_ITEM_TEXT));
        assert_eq!(from_items(items)["tgw-rtb-0123456789abcdef0"].cidrs, cidrs);
    }

    #[test]
    fn a_propagation_record_reads_back_as_written_apart_from_the_route_record() {
        let ids: BTreeSet<String> = (0..20).map(|i| format!("tgw-attach-{i:017x}")).collect();
        let mut tags = propagation_tags("tgw-attach-peer", &ids);
        assert!(tags.len() > 1, "twenty ids need more than one tag value");
        assert!(tags.iter().all(|(_, v)| v.len() <= MAX_TAG_VALUE));
        tags.extend(record_tags("tgw-attach-peer", &nets(&["10.1.0.0/16"])));
        assert_eq!(recorded_propagations(&tags, "tgw-attach-peer"), ids);
        assert_eq!(recorded(&tags, "tgw-attach-peer"), nets(&["10.1.0.0/16"]));
        assert_eq!(propagation_keys(&tags, "tgw-attach-peer").len(), tags.len() - 1);
        assert!(recorded_propagations(&tags, "tgw-attach-other").is_empty());
        assert!(propagations_fit(&tags, "tgw-attach-peer", &ids));
    }

    proptest! {
        #[test]
        fn a_propagation_record_rewritten_over_any_earlier_one_reads_back_exactly(
            before in proptest::collection::btree_set(0u32..60, 0..40),
            after in proptest::collection::btree_set(0u32..60, 0..40),
        ) {
            // Given a table whose tags hold one record (and a foreign tag).
            let as_ids = |set: &BTreeSet<u32>| -> BTreeSet<String> {
                set.iter().map(|i| format!("tgw-attach-{i:017x}")).collect()
            };
            let mut tags = propagation_tags("tgw-attach-peer", &as_ids(&before));
            tags.push(("Name".into(), "prod".into()));
            // When the writes for another record are applied as EC2 applies them.
            let keys = propagation_keys(&tags, "tgw-attach-peer");
            let (put, delete) = propagation_record_writes(&keys, "tgw-attach-peer", &as_ids(&after));
            for (key, value) in put {
                match tags.iter_mut().find(|(k, _)| *k == key) {
                    Some(tag) => tag.1 = value,
                    None => tags.push((key, value)),
                }
            }
            tags.retain(|(key, _)| !delete.contains(key));
            // Then the record lists exactly the new set, and the foreign tag is untouched.
            prop_assert_eq!(recorded_propagations(&tags, "tgw-attach-peer"), as_ids(&after));
            prop_assert!(tags.iter().any(|(k, v)| k == "Name" && v == "prod"));
        }

        #[test]
        fn any_set_of_cidrs_round_trips_through_chunks_that_fit_ec2s_limits(
            raw in proptest::collection::btree_set((any::<u32>(), 8u8..=32), 0..300),
        ) {
            let cidrs: BTreeSet<IpNet> = raw.into_iter().map(|(a, l)| IpNet::new(std::net::Ipv4Addr::from(a).into(), l).unwrap().trunc()).collect();
            let tags = record_tags("tgw-attach-0123456789abcdef0", &cidrs);
            prop_assert!(tags.iter().all(|(k, v)| v.len() <= MAX_TAG_VALUE && k.len() <= 128));
            prop_assert_eq!(recorded(&tags, "tgw-attach-0123456789abcdef0"), cidrs);
        }

        #[test]
        fn any_set_of_cidrs_round_trips_through_state_table_items_of_any_size(
            raw in proptest::collection::btree_set((any::<u32>(), 8u8..=32), 0..300),
            max in 20usize..2_000,
        ) {
            let cidrs: BTreeSet<IpNet> = raw.into_iter().map(|(a, l)| IpNet::new(std::net::Ipv4Addr::from(a).into(), l).unwrap().trunc()).collect();
            let items = items_within(max, "rtb-1", &cidrs);
            prop_assert!(items.iter().all(|item| item.cidrs.len() <= max));
            let keys: BTreeSet<&str> = items.iter().map(|item| item.sort_key.as_str()).collect();
            prop_assert_eq!(keys.len(), items.len(), "sort keys are distinct");
            let records = from_items(items.clone());
            prop_assert_eq!(records.get("rtb-1").map(|r| r.cidrs.clone()).unwrap_or_default(), cidrs);
        }
    }
}
