//! Pure checks of single request values. Each returns an error that names the field and the fix.

use ipnet::IpNet;

use crate::error::{Error, Result};

/// Every public AWS Region, by partition. Peering only works between Regions of one partition.
const PARTITIONS: &[(&str, &[&str])] = &[
    (
        "aws",
        &[
            "af-south-1",
            "ap-east-1",
            "ap-east-2",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-south-1",
            "ap-south-2",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "ap-southeast-5",
            "ap-southeast-6",
            "ap-southeast-7",
            "ca-central-1",
            "ca-west-1",
            "eu-central-1",
            "eu-central-2",
            "eu-north-1",
            "eu-south-1",
            "eu-south-2",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "il-central-1",
            "me-central-1",
            "me-south-1",
            "mx-central-1",
            "sa-east-1",
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
        ],
    ),
    ("aws-cn", &["cn-north-1", "cn-northwest-1"]),
    ("aws-us-gov", &["us-gov-east-1", "us-gov-west-1"]),
    ("aws-eusc", &["eusc-de-east-1"]),
];

/// Longest value we echo back in an error message; the rest is elided so that a huge or hostile
/// value cannot flood the logs.
const ECHO_LIMIT: usize = 64;

/// Quotes a user-supplied value for an error message: escaped, and cut to a safe length.
pub(crate) fn echo(value: &str) -> String {
    let cut: String = value.chars().take(ECHO_LIMIT).collect();
    let more = if value.chars().count() > ECHO_LIMIT {
        "…"
    } else {
        ""
    };
    format!("{:?}{more}", cut)
}

/// The partition of a known Region name.
pub fn partition_of(region: &str) -> Option<&'static str> {
    PARTITIONS
        .iter()
        .find(|(_, regions)| regions.contains(&region))
        .map(|(partition, _)| *partition)
}

/// Checks that `value` is a real AWS Region name, suggesting the closest one when it is not.
pub fn region(field: &str, value: &str) -> Result<()> {
    if partition_of(value).is_some() {
        return Ok(());
    }
    let closest = PARTITIONS
        .iter()
        .flat_map(|(_, regions)| regions.iter())
        .map(|known| (strsim::levenshtein(&value.to_ascii_lowercase(), known), *known))
        .min();
    let hint = match closest {
        Some((distance, known)) if distance <= 3 => format!("; did you mean {known:?}?"),
        _ => "; use a Region code such as \"us-east-1\"".to_owned(),
    };
    Err(Error::invalid(
        field,
        format!("is {}, which is not an AWS Region{hint}", echo(value)),
    ))
}

/// Checks the pair of Regions: distinct, and in one partition.
pub fn region_pair(active: &str, passive: &str) -> Result<()> {
    if active == passive {
        return Err(Error::invalid(
            "passiveRegion",
            format!(
                "is {active:?}, the same as activeRegion; inter-Region peering needs two \
                 different Regions"
            ),
        ));
    }
    if partition_of(active) != partition_of(passive) {
        return Err(Error::invalid(
            "passiveRegion",
            format!(
                "is {passive:?}, in another partition than activeRegion {active:?}; peering only \
                 works within one partition"
            ),
        ));
    }
    Ok(())
}

/// EC2 resource id kinds the request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// `tgw-` followed by hex.
    TransitGateway,
    /// `tgw-rtb-` followed by hex.
    RouteTable,
    /// `tgw-attach-` followed by hex.
    Attachment,
}

impl IdKind {
    fn prefix(self) -> &'static str {
        match self {
            IdKind::TransitGateway => "tgw-",
            IdKind::RouteTable => "tgw-rtb-",
            IdKind::Attachment => "tgw-attach-",
        }
    }

    fn example(self) -> &'static str {
        match self {
            IdKind::TransitGateway => "tgw-0123456789abcdef0",
            IdKind::RouteTable => "tgw-rtb-0123456789abcdef0",
            IdKind::Attachment => "tgw-attach-0123456789abcdef0",
        }
    }
}

/// Checks that `value` is a well-formed EC2 id of `kind`: its prefix, then 8 or 17 lowercase hex
/// digits (moto and older accounts use other lengths between those, so any 8 to 17 is accepted).
pub fn resource_id(field: &str, kind: IdKind, value: &str) -> Result<()> {
    let well_formed = value.strip_prefix(kind.prefix()).is_some_and(|hex| {
        (8..=17).contains(&hex.len())
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    // `tgw-rtb-…` and `tgw-attach-…` also start with `tgw-`; only hex may follow the prefix, so
    // they already fail the check above for a transit gateway id.
    if well_formed {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!(
                "is {}, which is not a well-formed id; expected {} followed by 8 to 17 lowercase \
                 hex digits, such as {}",
                echo(value),
                kind.prefix(),
                kind.example()
            ),
        ))
    }
}

/// Checks a VPC tag key against EC2's rules for tag keys.
pub fn tag_key(field: &str, value: &str) -> Result<()> {
    let length = value.chars().count();
    if length == 0 || length > 128 {
        return Err(Error::invalid(
            field,
            format!("is {length} characters long; an EC2 tag key has 1 to 128 characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            format!("is {}, which has control characters; remove them", echo(value)),
        ));
    }
    Ok(())
}

/// Checks a 12-digit AWS account id.
pub fn account_id(field: &str, value: &str) -> Result<()> {
    if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(());
    }
    Err(Error::invalid(
        field,
        format!(
            "is {}, which is not an AWS account id; give its 12 digits, such as 111122223333",
            echo(value)
        ),
    ))
}

/// Checks an IAM role ARN (`arn:<partition>:iam::<account>:role/<path/name>`) and returns its
/// account id.
pub fn role_arn<'a>(field: &str, value: &'a str) -> Result<&'a str> {
    let bad = || {
        Error::invalid(
            field,
            format!(
                "is {}, which is not an IAM role ARN; give one such as \
                 arn:aws:iam::111122223333:role/tgw-peering-passive",
                echo(value)
            ),
        )
    };
    let mut parts = value.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(bad());
    };
    let name = resource.strip_prefix("role/").ok_or_else(bad)?;
    let name_ok = !name.is_empty()
        && name.len() <= 512
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c));
    if !PARTITIONS.iter().any(|(p, _)| *p == partition) || !name_ok {
        return Err(bad());
    }
    account_id(field, account).map_err(|_| bad())?;
    Ok(account)
}

/// Parses an IPv4 or IPv6 CIDR to route across the peering. It must be written as its network
/// address,
/// because EC2 refuses a route whose prefix has host bits set, and a silently corrected range
/// would route something the operator did not write.
pub fn cidr(field: &str, value: &str) -> Result<IpNet> {
    let trimmed = value.trim();
    let parsed: IpNet = trimmed.parse().map_err(|_| {
        Error::invalid(
            field,
            format!(
                "is {}, which is not a CIDR; give one such as 192.168.0.0/16 or 2001:db8::/56",
                echo(value)
            ),
        )
    })?;
    if parsed != parsed.trunc() {
        return Err(Error::invalid(
            field,
            format!(
                "is {}, which has host bits set; write {}",
                echo(value),
                parsed.trunc()
            ),
        ));
    }
    Ok(parsed)
}

/// Reads a true/false setting from the environment: `true`/`false` in any case, empty for unset.
pub fn flag(field: &str, value: &str) -> Result<Option<bool>> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "true" => Ok(Some(true)),
        "false" => Ok(Some(false)),
        _ => Err(Error::invalid(
            field,
            format!("is {}; set it to true or false", echo(value)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_regions_pass_and_misspelt_ones_get_a_suggestion() {
        assert!(region("activeRegion", "eu-west-1").is_ok());
        assert!(region("activeRegion", "us-gov-west-1").is_ok());
        let err = region("activeRegion", "us-esat-1").unwrap_err().to_string();
        assert!(
            err.contains("activeRegion") && err.contains("did you mean \"us-east-1\""),
            "{err}"
        );
        let err = region("passiveRegion", "mars-north-1").unwrap_err().to_string();
        assert!(err.contains("passiveRegion") && err.contains("such as"), "{err}");
    }

    #[test]
    fn a_region_pair_must_differ_and_share_a_partition() {
        assert!(region_pair("us-east-1", "eu-west-1").is_ok());
        assert!(region_pair("us-east-1", "us-east-1")
            .unwrap_err()
            .to_string()
            .contains("same"));
        assert!(region_pair("us-east-1", "cn-north-1")
            .unwrap_err()
            .to_string()
            .contains("partition"));
    }

    #[test]
    fn ids_need_their_own_prefix_and_hex() {
        let ok = [
            (IdKind::TransitGateway, "tgw-0123456789abcdef0"),
            (IdKind::TransitGateway, "tgw-12345678"),
            (IdKind::RouteTable, "tgw-rtb-0123456789abcdef0"),
            (IdKind::Attachment, "tgw-attach-0123456789abcdef0"),
        ];
        for (kind, id) in ok {
            assert!(resource_id("f", kind, id).is_ok(), "{id}");
        }
        let bad = [
            (IdKind::TransitGateway, "tgw-rtb-0123456789abcdef0"),
            (IdKind::TransitGateway, "tgw-0123456789ABCDEF0"),
            (IdKind::TransitGateway, "tgw-123"),
            (IdKind::TransitGateway, "tgw-0123456789abcdef0'; DROP TABLE"),
            (IdKind::TransitGateway, "tgw-０１２３４５６７８"),
            (IdKind::RouteTable, "rtb-0123456789abcdef0"),
            (IdKind::Attachment, "tgw-0123456789abcdef0"),
        ];
        for (kind, id) in bad {
            let err = resource_id("someField", kind, id).unwrap_err();
            assert_eq!(err.error_type(), "InvalidInput");
            assert!(err.to_string().contains("someField"), "{err}");
        }
    }

    #[test]
    fn oversized_values_are_cut_in_messages() {
        let huge = "x".repeat(100_000);
        let err = resource_id("activeTransitGatewayId", IdKind::TransitGateway, &huge)
            .unwrap_err()
            .to_string();
        assert!(err.len() < 400, "message is {} bytes", err.len());
    }

    #[test]
    fn tag_keys_follow_ec2_limits() {
        assert!(tag_key("vpcTagKey", "addToTransitGateway").is_ok());
        assert!(tag_key("vpcTagKey", "").is_err());
        assert!(tag_key("vpcTagKey", &"k".repeat(129)).is_err());
        assert!(tag_key("vpcTagKey", "a\u{0}b").is_err());
    }

    proptest! {
        #[test]
        fn any_hex_suffix_of_valid_length_is_a_transit_gateway_id(hex in "[0-9a-f]{8,17}") {
            let id = format!("tgw-{hex}");
            prop_assert!(resource_id("f", IdKind::TransitGateway, &id).is_ok());
        }

        #[test]
        fn no_string_outside_the_grammar_passes(s in "\\PC{0,40}") {
            let valid = s.strip_prefix("tgw-").is_some_and(|h| (8..=17).contains(&h.len())
                && h.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
            prop_assert_eq!(resource_id("f", IdKind::TransitGateway, &s).is_ok(), valid);
        }
    }

    #[test]
    fn cidrs_of_either_family_must_be_network_addresses() {
        assert_eq!(
            cidr("f", " 192.168.0.0/16 ").unwrap().to_string(),
            "192.168.0.0/16"
        );
        let host_bits = cidr("extraCidrs.active[0]", "10.1.2.3/16")
            .unwrap_err()
            .to_string();
        assert!(
            host_bits.contains("extraCidrs.active[0]") && host_bits.contains("write 10.1.0.0/16"),
            "{host_bits}"
        );
        assert_eq!(cidr("f", "2001:db8::/32").unwrap().to_string(), "2001:db8::/32");
        let v6_host_bits = cidr("f", "2001:db8::1/56").unwrap_err().to_string();
        assert!(v6_host_bits.contains("write 2001:db8::/56"), "{v6_host_bits}");
        for bad in ["", "10.0.0.0", "10.0.0.0/33", "ten/8", "2001:db8::/129"] {
            assert!(cidr("f", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn flags_are_true_false_or_unset() {
        assert_eq!(flag("VPC_ROUTES", "TRUE").unwrap(), Some(true));
        assert_eq!(flag("VPC_ROUTES", "false").unwrap(), Some(false));
        assert_eq!(flag("VPC_ROUTES", " ").unwrap(), None);
        assert!(flag("VPC_ROUTES", "yes")
            .unwrap_err()
            .to_string()
            .contains("VPC_ROUTES"));
    }

    #[test]
    fn account_ids_and_role_arns_are_checked_and_the_arn_names_its_account() {
        assert!(account_id("passiveAccountId", "111122223333").is_ok());
        for bad in ["11112222333", "1111222233334", "11112222333a", ""] {
            assert!(account_id("passiveAccountId", bad).is_err(), "{bad}");
        }
        assert_eq!(
            role_arn("passiveRoleArn", "arn:aws:iam::111122223333:role/net/tgw-peering").unwrap(),
            "111122223333"
        );
        for bad in [
            "arn:aws:iam::111122223333:user/me",
            "arn:aws:sts::111122223333:role/x",
            "arn:aws:iam::1111:role/x",
            "arn:mars:iam::111122223333:role/x",
            "arn:aws:iam::111122223333:role/",
            "tgw-peering",
        ] {
            let err = role_arn("passiveRoleArn", bad).unwrap_err().to_string();
            assert!(err.contains("passiveRoleArn"), "{bad}: {err}");
        }
    }
}
