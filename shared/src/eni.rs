//! How many `awsvpc` tasks a container instance can hold by its instance type's elastic network
//! interfaces: a table of the common families, with and without ENI trunking.
//!
//! Each `awsvpc` task takes an ENI of its own; the instance's primary ENI is not for tasks, so
//! without trunking an instance holds its type's maximum network interfaces minus one. With
//! ENI trunking (the `awsvpcTrunking` account setting, on a supported type), ECS attaches a
//! trunk ENI and the limit is the documented trunked task limit. Source:
//! <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/container-instance-eni.html>
//! (and its table of supported instance types); the ENI counts are EC2's
//! `NetworkInfo.MaximumNetworkInterfaces` (DescribeInstanceTypes): every untrunked limit here is
//! checked against EC2's data as moto ships it (the test bed's
//! `the_eni_table_agrees_with_ec2s_description_of_each_type`). Of the trunked limits only
//! c5.large's (10) is confirmed by the page's own example; the others follow the ECS table of
//! supported types as it was transcribed, unchecked here.
//!
//! A type missing here has no limit from this table: the planner does not limit its `awsvpc`
//! tasks and says so in the record; the cluster key `max_tasks_per_instance` sets one (and
//! overrides the table everywhere). See the README's "Limits and assumptions".

use std::collections::BTreeMap;

use crate::state::INSTANCE_TYPE_ATTRIBUTE;

/// ECS attribute a container instance carries when ENI trunking is on for it (its trunk ENI's id).
pub const TRUNK_ATTRIBUTE: &str = "ecs.awsvpc-trunk-id";

/// One instance size: (size, `awsvpc` tasks without trunking, with trunking when supported).
type Size = (&'static str, u32, Option<u32>);

/// Sizes of the 5th generation general purpose, compute and memory families (m5, c5, r5 share
/// their ENI counts size by size; c5 names some sizes differently).
const M5_R5: &[Size] = &[
    ("large", 2, Some(10)),
    ("xlarge", 3, Some(20)),
    ("2xlarge", 3, Some(40)),
    ("4xlarge", 7, Some(60)),
    ("8xlarge", 7, Some(60)),
    ("12xlarge", 7, Some(60)),
    ("16xlarge", 14, Some(120)),
    ("24xlarge", 14, Some(120)),
];

const C5: &[Size] = &[
    ("large", 2, Some(10)),
    ("xlarge", 3, Some(20)),
    ("2xlarge", 3, Some(40)),
    ("4xlarge", 7, Some(60)),
    ("9xlarge", 7, Some(60)),
    ("12xlarge", 7, Some(60)),
    ("18xlarge", 14, Some(120)),
    ("24xlarge", 14, Some(120)),
];

/// 6th generation Intel families (m6i, c6i, r6i): ENI counts as EC2 gives them; their trunked
/// limits are not in this table (a trunked instance of these types is not limited).
const M6I_C6I_R6I: &[Size] = &[
    ("large", 2, None),
    ("xlarge", 3, None),
    ("2xlarge", 3, None),
    ("4xlarge", 7, None),
    ("8xlarge", 7, None),
    ("12xlarge", 7, None),
    ("16xlarge", 14, None),
    ("24xlarge", 14, None),
    ("32xlarge", 14, None),
];

/// Burstable t3 (ENI trunking is not supported on t3).
const T3: &[Size] = &[
    ("nano", 1, None),
    ("micro", 1, None),
    ("small", 2, None),
    ("medium", 2, None),
    ("large", 2, None),
    ("xlarge", 3, None),
    ("2xlarge", 3, None),
];

const FAMILIES: &[(&str, &[Size])] = &[
    ("m5", M5_R5),
    ("r5", M5_R5),
    ("c5", C5),
    ("m6i", M6I_C6I_R6I),
    ("c6i", M6I_C6I_R6I),
    ("r6i", M6I_C6I_R6I),
    ("t3", T3),
];

/// Every instance type of the table with its limits: (type, without trunking, with).
pub fn table() -> impl Iterator<Item = (String, u32, Option<u32>)> {
    FAMILIES.iter().flat_map(|(family, sizes)| {
        sizes
            .iter()
            .map(move |&(size, plain, trunked)| (format!("{family}.{size}"), plain, trunked))
    })
}

/// `awsvpc` tasks an instance of `instance_type` holds (`trunked`: ENI trunking on); `None`
/// when the table does not know.
pub fn task_limit(instance_type: &str, trunked: bool) -> Option<u32> {
    let (family, size) = instance_type.trim().split_once('.')?;
    let (_, sizes) = FAMILIES.iter().find(|(f, _)| *f == family)?;
    let &(_, plain, with_trunk) = sizes.iter().find(|(s, _, _)| *s == size)?;
    if trunked {
        with_trunk
    } else {
        Some(plain)
    }
}

/// The limit of a container instance of these attributes (its `ecs.instance-type`, trunked
/// when it carries [`TRUNK_ATTRIBUTE`]); `None` when its type is not in the table.
pub fn awsvpc_task_limit(attributes: &BTreeMap<String, String>) -> Option<u32> {
    let instance_type = attributes.get(INSTANCE_TYPE_ATTRIBUTE)?;
    task_limit(instance_type, attributes.contains_key(TRUNK_ATTRIBUTE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_the_enis_less_the_primary_or_the_trunked_limit() {
        // The documented example: a c5.large has 3 ENIs (2 tasks), 10 tasks with trunking.
        assert_eq!(task_limit("c5.large", false), Some(2));
        assert_eq!(task_limit("c5.large", true), Some(10));
        assert_eq!(task_limit("m5.24xlarge", true), Some(120));
        assert_eq!(task_limit("t3.micro", false), Some(1));
        assert_eq!(task_limit("t3.micro", true), None, "t3 has no trunking");
        assert_eq!(task_limit("m6i.large", true), None);
        for unknown in ["x2gd.large", "m5", "m5.huge", "", "m5.large.extra"] {
            assert_eq!(task_limit(unknown, false), None, "{unknown}");
        }
    }

    #[test]
    fn an_instance_is_trunked_when_it_carries_the_trunk_attribute() {
        let mut a = BTreeMap::from([(INSTANCE_TYPE_ATTRIBUTE.to_owned(), "m5.large".to_owned())]);
        assert_eq!(awsvpc_task_limit(&a), Some(2));
        a.insert(TRUNK_ATTRIBUTE.into(), "eni-0abc".into());
        assert_eq!(awsvpc_task_limit(&a), Some(10));
        assert_eq!(awsvpc_task_limit(&BTreeMap::new()), None);
    }
}
