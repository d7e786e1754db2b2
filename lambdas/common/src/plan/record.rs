//! The record of the routes this tool created, kept as tags on each route table it wrote to, so
//! that teardown removes exactly those and never guesses. Pure: tags in, CIDRs out, and back.
//!
//! A table's record for one peering attachment is one or more tags
//! `tgw-peering:routes:<attachment-id>:<n>` whose values list the CIDRs, space-separated, in
//! address order. EC2 allows 256 characters in a tag value and 50 tags on a resource, so a table
//! records up to about 600 routes per peering.

use std::collections::BTreeSet;

use ipnet::IpNet;

/// Every record tag's key starts with this.
pub const RECORD_PREFIX: &str = "tgw-peering:routes:";

/// EC2's limits on tags.
pub const MAX_TAG_VALUE: usize = 256;
pub const MAX_TAGS: usize = 50;

fn key_prefix(attachment_id: &str) -> String {
    format!("{RECORD_PREFIX}{attachment_id}:")
}

/// The tag key of a record's first chunk; every record has one, so it finds recorded tables.
pub fn first_key(attachment_id: &str) -> String {
    format!("{}1", key_prefix(attachment_id))
}

/// `items`, space-separated, as tags `<prefix><n>` whose values fit EC2's limit.
fn chunked(prefix: &str, items: impl Iterator<Item = String>) -> Vec<(String, String)> {
    let mut chunks: Vec<String> = Vec::new();
    for text in items {
        match chunks.last_mut() {
            Some(chunk) if chunk.len() + 1 + text.len() <= MAX_TAG_VALUE => {
                chunk.push(' ');
                chunk.push_str(&text);
            }
            _ => chunks.push(text),
        }
    }
    chunks
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

/// The record tags for `cidrs` created via `attachment_id`, chunked to fit EC2's value limit.
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

/// Whether a table with `tags` can hold the record of `cidrs` for `attachment_id`, next to its
/// other tags.
pub fn fits(tags: &[(String, String)], attachment_id: &str, cidrs: &BTreeSet<IpNet>) -> bool {
    let others = tags.len() - record_keys(tags, attachment_id).len();
    others + record_tags(attachment_id, cidrs).len() <= MAX_TAGS
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
    fn a_table_with_too_many_tags_for_the_record_does_not_fit() {
        let others: Vec<(String, String)> = (0..49).map(|i| (format!("k{i}"), "v".into())).collect();
        assert!(fits(&others, "tgw-attach-1", &nets(&["10.1.0.0/16"])));
        let many: BTreeSet<IpNet> = (0..40u32)
            .map(|i| IpNet::new(std::net::Ipv4Addr::from(0x0a00_0000 + (i << 8)).into(), 24).unwrap())
            .collect();
        assert!(!fits(&others, "tgw-attach-1", &many));
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
        fn any_set_of_cidrs_round_trips_through_chunks_that_fit_ec2s_limits(
            raw in proptest::collection::btree_set((any::<u32>(), 8u8..=32), 0..300),
        ) {
            let cidrs: BTreeSet<IpNet> = raw.into_iter().map(|(a, l)| IpNet::new(std::net::Ipv4Addr::from(a).into(), l).unwrap().trunc()).collect();
            let tags = record_tags("tgw-attach-0123456789abcdef0", &cidrs);
            prop_assert!(tags.iter().all(|(k, v)| v.len() <= MAX_TAG_VALUE && k.len() <= 128));
            prop_assert_eq!(recorded(&tags, "tgw-attach-0123456789abcdef0"), cidrs);
        }
    }
}
