//! The availability zones of the instances Auto Scaling has yet to launch, as far as its rule
//! tells them: "Amazon EC2 Auto Scaling attempts to distribute instances evenly between the
//! Availability Zones that are enabled for your Auto Scaling group [...] by attempting to launch
//! new instances in the Availability Zone with the fewest instances"
//! (<https://docs.aws.amazon.com/autoscaling/ec2/userguide/auto-scaling-benefits.html#arch-AutoScalingMultiAZ>).
//!
//! A launch's zone is known only when that zone is the one with the fewest; from the first tie
//! on, which zone gets the next instance is Auto Scaling's pick, and so is every later one's:
//! they are unknown, and `memberOf` on the zone never counts on them.

use shared::state::GroupState;

/// The zones the group's next launches go to, one launch at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LaunchZones {
    /// The group's zones by name, each with the fewest and the most live instances it may
    /// have when Auto Scaling launches (an instance that may be terminated first counts only in
    /// the most); empty once a launch's zone is unknown (and so every later one's).
    counts: Vec<Zone>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Zone {
    name: String,
    low: u32,
    high: u32,
}

impl LaunchZones {
    /// The rule applied to `group`'s instances: those `Pending` or `InService` count in their
    /// zone (those `leaving` may be gone by then: the plan may terminate them), those leaving
    /// already (`Terminating`, `Terminated`) in none. Nothing is known when the group lists no
    /// zone, when an instance's zone is not listed or not one of the group's (Auto Scaling would
    /// rebalance), or when an instance is in any other state (`Standby`, `Detaching`, a warm
    /// pool's): how Auto Scaling counts those is not documented.
    pub(crate) fn of(group: &GroupState, leaving: impl Fn(&str) -> bool) -> LaunchZones {
        let mut names: Vec<&String> = group.availability_zones.iter().collect();
        names.sort();
        names.dedup();
        let mut counts: Vec<Zone> = names
            .into_iter()
            .map(|name| Zone {
                name: name.clone(),
                low: 0,
                high: 0,
            })
            .collect();
        let unknown = LaunchZones { counts: Vec::new() };
        for gi in &group.instances {
            let state = gi.lifecycle_state.as_str();
            if state.starts_with("Terminat") {
                continue;
            }
            if !(state.starts_with("Pending") || state == "InService") {
                return unknown;
            }
            let Some(zone) = gi.availability_zone.as_deref() else {
                return unknown;
            };
            let Some(z) = counts.iter_mut().find(|z| z.name == zone) else {
                return unknown;
            };
            z.high = z.high.saturating_add(1);
            if !leaving(&gi.instance_id) {
                z.low = z.low.saturating_add(1);
            }
        }
        LaunchZones { counts }
    }

    /// The zone of the next launch when the rule names it whatever instances leave first (it is
    /// counted there), else `None` (and for every launch after it).
    pub(crate) fn next(&mut self) -> Option<String> {
        let Some((z, _)) = self.run() else {
            self.counts.clear();
            return None;
        };
        let zone = self.counts.iter_mut().find(|x| x.name == z)?;
        zone.low = zone.low.saturating_add(1);
        zone.high = zone.high.saturating_add(1);
        Some(z)
    }

    /// The zone the next launches go to and how many of them surely go there (`u32::MAX` for a
    /// group in one zone): a zone whose most is below every other zone's fewest, until it
    /// catches up. `None` when the next launch's zone is unknown; the launches after the run
    /// are unknown too.
    pub(crate) fn run(&self) -> Option<(String, u32)> {
        let zone = self.counts.iter().min_by_key(|z| z.high)?;
        let others = self
            .counts
            .iter()
            .filter(|z| z.name != zone.name)
            .map(|z| z.low)
            .min();
        match others {
            None => Some((zone.name.clone(), u32::MAX)),
            Some(low) if low > zone.high => Some((zone.name.clone(), low - zone.high)),
            Some(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use shared::state::{GroupInstance, GroupState};

    use super::*;

    fn group(zones: &[&str], instances: &[(&str, Option<&str>)]) -> GroupState {
        GroupState {
            availability_zones: zones.iter().map(|z| z.to_string()).collect(),
            instances: instances
                .iter()
                .enumerate()
                .map(|(i, &(state, zone))| GroupInstance {
                    instance_id: format!("i-{i}"),
                    lifecycle_state: state.into(),
                    availability_zone: zone.map(str::to_owned),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn launches(g: &GroupState, n: usize) -> Vec<Option<String>> {
        let mut zones = LaunchZones::of(g, |_| false);
        (0..n).map(|_| zones.next()).collect()
    }

    const A: Option<&str> = Some("eu-west-1a");
    const B: Option<&str> = Some("eu-west-1b");
    const ZONES: [&str; 3] = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];

    fn some(z: &str) -> Option<String> {
        Some(z.to_owned())
    }

    #[test]
    fn each_launch_goes_to_the_zone_with_fewest_until_a_tie() {
        // a 2, b 1, c 0: one to c, then b and c tie.
        let g = group(
            &ZONES,
            &[("InService", A), ("InService", A), ("Pending", B)],
        );
        assert_eq!(launches(&g, 3), [some("eu-west-1c"), None, None]);
        assert_eq!(
            LaunchZones::of(&g, |_| false).run(),
            Some(("eu-west-1c".into(), 1)),
            "one launch to c, then c and b tie"
        );
        // a 3, b 3, c 0: three to c, then a three-way tie.
        let g = group(&ZONES, &[("InService", A); 3]);
        let g = GroupState {
            instances: [
                g.instances.clone(),
                group(&ZONES, &[("InService", B); 3]).instances,
            ]
            .concat(),
            ..g
        };
        assert_eq!(
            launches(&g, 5),
            [
                some("eu-west-1c"),
                some("eu-west-1c"),
                some("eu-west-1c"),
                None,
                None
            ]
        );
        assert_eq!(
            LaunchZones::of(&g, |_| false).run(),
            Some(("eu-west-1c".into(), 3))
        );
    }

    #[test]
    fn a_tie_leaves_this_launch_and_every_later_one_unknown() {
        let g = group(&ZONES, &[("InService", A)]);
        assert_eq!(launches(&g, 3), [None, None, None], "b and c tie at 0");
        assert_eq!(LaunchZones::of(&g, |_| false).run(), None);
    }

    #[test]
    fn a_group_in_one_zone_launches_there_always() {
        let g = group(&["eu-west-1a"], &[("InService", A)]);
        assert_eq!(launches(&g, 2), [some("eu-west-1a"), some("eu-west-1a")]);
        assert_eq!(
            LaunchZones::of(&g, |_| false).run(),
            Some(("eu-west-1a".into(), u32::MAX))
        );
    }

    #[test]
    fn leaving_instances_count_nowhere_other_states_make_it_unknown() {
        let g = group(
            &["eu-west-1a", "eu-west-1b"],
            &[("InService", A), ("Terminating:Wait", B), ("Terminated", B)],
        );
        assert_eq!(launches(&g, 1), [some("eu-west-1b")]);
        for odd in ["Standby", "Detaching", "Warmed:Running"] {
            let g = group(&["eu-west-1a", "eu-west-1b"], &[("InService", A), (odd, B)]);
            assert_eq!(launches(&g, 1), [None], "{odd}");
        }
    }

    #[test]
    fn an_instance_of_no_listed_zone_or_a_group_without_zones_tells_nothing() {
        let g = group(&["eu-west-1a", "eu-west-1b"], &[("InService", None)]);
        assert_eq!(launches(&g, 1), [None]);
        let g = group(
            &["eu-west-1a", "eu-west-1b"],
            &[("InService", Some("eu-west-1z"))],
        );
        assert_eq!(
            launches(&g, 1),
            [None],
            "a zone the group left: it rebalances"
        );
        let g = group(&[], &[("InService", A)]);
        assert_eq!(launches(&g, 1), [None]);
        assert_eq!(LaunchZones::of(&g, |_| false).run(), None);
    }

    #[test]
    fn an_instance_the_plan_may_terminate_first_counts_both_ways() {
        // a 1, b 2 of which one may be gone: b may have 1, a tie.
        let g = group(
            &["eu-west-1a", "eu-west-1b"],
            &[("InService", A), ("InService", B), ("InService", B)],
        );
        let leaving = |id: &str| id == "i-2";
        assert_eq!(LaunchZones::of(&g, leaving).run(), None);
        // a 1 of which one may be gone, b 2: a has the fewest either way, for one launch.
        let leaving = |id: &str| id == "i-0";
        assert_eq!(
            LaunchZones::of(&g, leaving).run(),
            Some(("eu-west-1a".into(), 1))
        );
        let mut zones = LaunchZones::of(&g, leaving);
        assert_eq!(
            [zones.next(), zones.next()],
            [Some("eu-west-1a".into()), None]
        );
    }
}
