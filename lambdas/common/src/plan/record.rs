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

/// The record tags for `cidrs` created via `attachment_id`, chunked to fit EC2's value limit.
pub fn record_tags(attachment_id: &str, cidrs: &BTreeSet<IpNet>) -> Vec<(String, String)> {
    let prefix = key_prefix(attachment_id);
    let mut chunks: Vec<String> = Vec::new();
    for cidr in cidrs {
        let text = cidr.to_string();
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

/// The keys of `attachment_id`'s record among `tags`.
pub fn record_keys(tags: &[(String, String)], attachment_id: &str) -> Vec<String> {
    let prefix = key_prefix(attachment_id);
    tags.iter()
        .filter(|(key, _)| key.starts_with(&prefix))
        .map(|(key, _)| key.clone())
        .collect()
}

/// The CIDRs `attachment_id`'s record lists. Anything in a record tag that is not a CIDR was not
/// written by this tool and is skipped.
pub fn recorded(tags: &[(String, String)], attachment_id: &str) -> BTreeSet<IpNet> {
    let prefix = key_prefix(attachment_id);
    tags.iter()
        .filter(|(key, _)| key.starts_with(&prefix))
        .flat_map(|(_, value)| value.split_whitespace())
        .filter_map(|text| text.parse::<IpNet>().ok())
        .collect()
}

/// Whether a table with `tags` can hold the record of `cidrs` for `attachment_id`, next to its
/// other tags.
pub fn fits(tags: &[(String, String)], attachment_id: &str, cidrs: &BTreeSet<IpNet>) -> bool {
    let others = tags.len() - record_keys(tags, attachment_id).len();
    others + record_tags(attachment_id, cidrs).len() <= MAX_TAGS
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
