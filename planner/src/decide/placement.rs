//! What a service's tasks ask of an instance besides CPU and memory (host ports, GPUs, `memberOf`
//! expressions on attributes, an ENI), what an instance offers, and what a new instance of the
//! group brings (its GPUs and attributes as far as the registered instances agree, less the
//! daemons' reservation). The packing simulation asks [`Needs::met_by`] for every placement.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use shared::resources::Resources;

use super::packing::{Bin, BinKind};
use shared::state::{
    ClusterState, ContainerInstance, HostPort, InstanceStatus, NetworkMode, Scheduling,
    ServiceState,
};

/// What one task of a service needs from an instance besides CPU and memory.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Needs {
    /// Static host ports it binds.
    pub ports: Vec<HostPort>,
    /// GPUs it reserves.
    pub gpus: u32,
    /// Every `memberOf` expression, parsed; all must hold.
    pub member_of: Vec<MemberOf>,
    /// `awsvpc`: it takes one of the instance's ENIs (see `max_tasks_per_instance`).
    pub eni: bool,
    /// Why its placement cannot be judged (a constraint or network mode not understood): such a
    /// task is placed nowhere, never on a guess.
    pub not_understood: Option<String>,
}

/// What an instance offers besides CPU and memory, after what the simulation placed on it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Offer {
    /// Host ports in use.
    pub ports: Vec<HostPort>,
    /// GPUs free.
    pub gpus: u32,
    /// Its attributes.
    pub attributes: Arc<Attributes>,
    /// `awsvpc` tasks on it (ENIs taken).
    pub eni_tasks: u32,
}

/// An instance's attributes, as far as they are known.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Attributes {
    /// Known values (empty string: the attribute is set without a value).
    pub values: BTreeMap<String, String>,
    /// Attributes whose value is unknown (a new instance where the group's instances disagree).
    pub unknown: BTreeSet<String>,
    /// Nothing is known (a new instance of a group with no registered instance).
    pub all_unknown: bool,
}

impl Attributes {
    /// The value of `name`: `Some(None)` when known to be absent, `None` when unknown.
    fn get(&self, name: &str) -> Option<Option<&str>> {
        if self.all_unknown || self.unknown.contains(name) {
            return None;
        }
        Some(self.values.get(name).map(String::as_str))
    }
}

impl Needs {
    /// Whether it needs nothing but CPU and memory.
    pub(crate) fn is_plain(&self) -> bool {
        self.ports.is_empty()
            && self.gpus == 0
            && self.member_of.is_empty()
            && !self.eni
            && self.not_understood.is_none()
    }

    /// Whether an instance offering `offer` can take one more task, within `eni_limit`
    /// `awsvpc` tasks per instance (CPU and memory are the caller's).
    pub fn met_by(&self, offer: &Offer, eni_limit: Option<u32>) -> bool {
        self.not_understood.is_none()
            && offer.gpus >= self.gpus
            && self.ports.iter().all(|p| !offer.ports.contains(p))
            && (!self.eni || eni_limit.is_none_or(|l| offer.eni_tasks < l))
            && self
                .member_of
                .iter()
                .all(|m| m.holds(&offer.attributes) == Some(true))
    }

    /// Takes what one task uses from `offer`.
    pub fn take_from(&self, offer: &mut Offer) {
        offer.gpus = offer.gpus.saturating_sub(self.gpus);
        offer.ports.extend_from_slice(&self.ports);
        if self.eni {
            offer.eni_tasks = offer.eni_tasks.saturating_add(1);
        }
    }

    /// Why a new (empty) instance offering `offer` cannot take the task, for the record.
    pub fn why_not(&self, offer: &Offer, eni_limit: Option<u32>) -> String {
        if let Some(why) = &self.not_understood {
            return why.clone();
        }
        if offer.gpus < self.gpus {
            return format!(
                "needs {} GPU(s), a new instance of the group has {} free",
                self.gpus, offer.gpus
            );
        }
        if let Some(p) = self.ports.iter().find(|p| offer.ports.contains(p)) {
            return format!("host port {p} is taken on a new instance (by a daemon)");
        }
        if self.eni && eni_limit == Some(0) {
            return "no ENI for an awsvpc task".into();
        }
        if let Some(m) = self
            .member_of
            .iter()
            .find(|m| m.holds(&offer.attributes) != Some(true))
        {
            return match m.holds(&offer.attributes) {
                None => format!(
                    "memberOf `{}`: a new instance's attributes are not known (the group's instances disagree or none is registered)",
                    m.text
                ),
                _ => format!("memberOf `{}` does not hold on a new instance", m.text),
            };
        }
        "no instance meets its placement constraints".into()
    }
}

/// The needs of a service's tasks.
pub(crate) fn needs_of(s: &ServiceState) -> Needs {
    let p = &s.placement;
    let mut needs = Needs {
        ports: p.host_ports.clone(),
        gpus: s.gpu,
        member_of: Vec::new(),
        eni: p.network_mode == NetworkMode::Awsvpc,
        not_understood: p.unmodelled.clone(),
    };
    for text in &p.member_of {
        match MemberOf::parse(text) {
            Some(m) => needs.member_of.push(m),
            None => {
                needs
                    .not_understood
                    .get_or_insert_with(|| format!("constraint not understood: memberOf `{text}`"));
            }
        }
    }
    needs
}

/// Why the service cannot be planned (held at its count): its own `unmodelled`, or a `memberOf`
/// expression this model does not evaluate.
pub(crate) fn not_modelled(s: &ServiceState) -> Option<String> {
    needs_of(s).not_understood
}

/// What an existing container instance offers (`awsvpc`: whether a service's tasks take an
/// ENI; counted only when `eni_limited`).
pub(crate) fn offer_of(
    ci: &ContainerInstance,
    awsvpc: &dyn Fn(&str) -> bool,
    eni_limited: bool,
) -> Offer {
    let listed = !(ci.tasks.is_empty() && ci.has_tasks());
    let eni_tasks = if !eni_limited {
        0
    } else if listed {
        let n = ci
            .tasks
            .iter()
            .filter(|t| t.service.as_deref().is_some_and(awsvpc))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    } else {
        // Unlisted tasks might all be awsvpc: count them all.
        ci.running_tasks.saturating_add(ci.pending_tasks)
    };
    Offer {
        ports: ci.placement.ports_in_use.clone(),
        gpus: ci.placement.gpus_free,
        attributes: Arc::new(Attributes {
            values: ci.placement.attributes.clone(),
            ..Attributes::default()
        }),
        eni_tasks,
    }
}

/// A bin for an instance not registered yet (booting, or launched by the plan): `size` less
/// the daemons' reservation, offering what a new instance offers.
pub(crate) fn fresh_bin(kind: BinKind, size: Resources, new: &NewInstance) -> Bin {
    let mut bin = Bin::empty(kind, size);
    bin.free = size.saturating_sub(new.daemons);
    bin.offer = new.offer.clone();
    bin
}

/// What every new (or booting) instance of the group brings, after its daemons.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct NewInstance {
    /// What it offers besides CPU and memory.
    pub offer: Offer,
    /// CPU and memory the daemons reserve on it.
    pub daemons: Resources,
    /// The daemon services, for the record.
    pub daemon_services: Vec<String>,
}

/// A new instance of the group: GPUs, those of `launch` (the least the group may launch, see
/// `instances::new_size`), so that a plan never counts on GPUs a launch might not bring;
/// attributes, those on which every registered instance agrees (the others unknown, all unknown
/// without any registered instance), `ecs.instance-type` that of `launch` (unknown when the
/// group may launch several); then every ACTIVE EC2 DAEMON service's task on it.
pub(crate) fn new_instance(
    state: &ClusterState,
    launch: &super::instances::NewSize,
) -> NewInstance {
    let registered: Vec<&ContainerInstance> = state
        .instances
        .iter()
        .filter(|ci| matches!(ci.status, InstanceStatus::Active | InstanceStatus::Draining))
        .collect();
    let gpus = launch.gpus;
    let mut attributes = Attributes {
        all_unknown: registered.is_empty(),
        ..Attributes::default()
    };
    if let Some(first) = registered.first() {
        let names: BTreeSet<&String> = registered
            .iter()
            .flat_map(|ci| ci.placement.attributes.keys())
            .collect();
        for name in names {
            let value = first.placement.attributes.get(name);
            if registered
                .iter()
                .all(|ci| ci.placement.attributes.get(name) == value)
            {
                if let Some(v) = value {
                    attributes.values.insert(name.clone(), v.clone());
                }
            } else {
                attributes.unknown.insert(name.clone());
            }
        }
        // Our own bookkeeping attributes say nothing about a new instance.
        for own in [
            shared::state::DRAINED_AT_ATTRIBUTE,
            shared::state::DRAIN_ABORTED_AT_ATTRIBUTE,
        ] {
            attributes.values.remove(own);
            attributes.unknown.remove(own);
        }
    }
    super::instances::launch_type_onto(&mut attributes, launch);
    let mut new = NewInstance {
        offer: Offer {
            ports: Vec::new(),
            gpus,
            attributes: Arc::new(attributes),
            eni_tasks: 0,
        },
        ..NewInstance::default()
    };
    for s in state.services.iter().filter(|s| {
        s.status == "ACTIVE"
            && s.placement.scheduling == Scheduling::Daemon
            && s.placement.launch.on_instances()
    }) {
        let needs = needs_of(s);
        // A daemon whose constraints surely exclude the new instance does not run there; one
        // that might run there (an attribute unknown) is reserved, so no plan counts on its room.
        let attributes = &new.offer.attributes;
        if needs
            .member_of
            .iter()
            .any(|m| m.holds(attributes) == Some(false))
            || new.offer.gpus < needs.gpus
        {
            continue;
        }
        needs.take_from(&mut new.offer);
        new.daemons = new.daemons.saturating_add(s.task_size);
        new.daemon_services.push(s.name.clone());
    }
    new
}

/// One `memberOf` expression of the forms this model evaluates: `attribute:NAME == V`,
/// `!= V`, `in [V, ...]`, `not_in [V, ...]`, `exists`, `!exists`, joined by `and`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MemberOf {
    /// As written.
    pub text: String,
    clauses: Vec<Clause>,
}

#[derive(Debug, Clone, PartialEq)]
struct Clause {
    attribute: String,
    test: Test,
}

#[derive(Debug, Clone, PartialEq)]
enum Test {
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    Absent,
}

impl MemberOf {
    /// The expression, or `None` when it is not of a form evaluated here (`or`, parentheses,
    /// `=~` patterns, `task:group`, `ec2InstanceId`, ... are not).
    pub fn parse(text: &str) -> Option<MemberOf> {
        let text = text.trim();
        if text.is_empty() || text.contains('(') || text.contains(')') {
            return None;
        }
        let clauses = split_words(text, "and")
            .into_iter()
            .map(Clause::parse)
            .collect::<Option<Vec<_>>>()?;
        Some(MemberOf {
            text: text.to_owned(),
            clauses,
        })
    }

    /// Whether it holds on an instance of those attributes; `None` when an attribute it reads
    /// is unknown.
    pub fn holds(&self, attributes: &Attributes) -> Option<bool> {
        let mut all = true;
        for c in &self.clauses {
            let value = attributes.get(&c.attribute)?;
            all &= match (&c.test, value) {
                (Test::Equals(v), Some(x)) => x == v,
                (Test::Equals(_), None) => false,
                (Test::NotEquals(v), x) => x != Some(v.as_str()),
                (Test::In(vs), Some(x)) => vs.iter().any(|v| v == x),
                (Test::In(_), None) => false,
                (Test::NotIn(vs), x) => x.is_none_or(|x| !vs.iter().any(|v| v == x)),
                (Test::Exists, x) => x.is_some(),
                (Test::Absent, x) => x.is_none(),
            };
        }
        Some(all)
    }
}

impl Clause {
    fn parse(text: &str) -> Option<Clause> {
        let rest = text.trim().strip_prefix("attribute:")?;
        let (attribute, rest) = rest.split_once(char::is_whitespace)?;
        if attribute.is_empty() {
            return None;
        }
        let rest = rest.trim();
        let (op, value) = rest
            .split_once(char::is_whitespace)
            .map_or((rest, ""), |(o, v)| (o, v.trim()));
        let word = |v: &str| {
            let v = v.trim();
            (!v.is_empty() && !v.contains(char::is_whitespace) && !v.contains([',', '[', ']']))
                .then(|| v.to_owned())
        };
        let list = |v: &str| -> Option<Vec<String>> {
            let inner = v.trim().strip_prefix('[')?.strip_suffix(']')?;
            inner.split(',').map(word).collect()
        };
        let test = match op {
            "==" => Test::Equals(word(value)?),
            "!=" => Test::NotEquals(word(value)?),
            "in" => Test::In(list(value)?),
            "not_in" => Test::NotIn(list(value)?),
            "exists" if value.is_empty() => Test::Exists,
            "!exists" if value.is_empty() => Test::Absent,
            _ => return None,
        };
        Some(Clause {
            attribute: attribute.to_owned(),
            test,
        })
    }
}

/// `text` split on the whole word `word` (case-insensitive), outside brackets.
fn split_words<'a>(text: &'a str, word: &str) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut depth = 0i32;
    let bytes = text.as_bytes();
    let w = word.len();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'[' => depth += 1,
            b']' => depth -= 1,
            _ => {}
        }
        let boundary_before = i == 0 || bytes[i - 1].is_ascii_whitespace();
        let boundary_after = bytes.get(i + w).is_none_or(|b| b.is_ascii_whitespace());
        if depth == 0
            && boundary_before
            && boundary_after
            && text
                .get(i..i + w)
                .is_some_and(|s| s.eq_ignore_ascii_case(word))
        {
            parts.push(&text[start..i]);
            start = i + w;
            i += w;
            continue;
        }
        i += 1;
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> Attributes {
        Attributes {
            values: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Attributes::default()
        }
    }

    #[test]
    fn member_of_evaluates_the_simple_forms() {
        let g4 = attrs(&[
            ("ecs.instance-type", "g4dn.xlarge"),
            ("ecs.availability-zone", "us-east-1a"),
            ("team", "ml"),
        ]);
        let cases = [
            ("attribute:ecs.instance-type == g4dn.xlarge", true),
            ("attribute:ecs.instance-type == m5.large", false),
            ("attribute:ecs.instance-type != m5.large", true),
            (
                "attribute:ecs.instance-type in [m5.large, g4dn.xlarge]",
                true,
            ),
            ("attribute:ecs.instance-type in [m5.large,c5.large]", false),
            ("attribute:ecs.availability-zone not_in [us-east-1b]", true),
            (
                "attribute:team == ml and attribute:ecs.availability-zone == us-east-1a",
                true,
            ),
            (
                "attribute:team == ml AND attribute:ecs.availability-zone == us-east-1b",
                false,
            ),
            ("attribute:team exists", true),
            ("attribute:stack exists", false),
            ("attribute:stack !exists", true),
            ("attribute:stack != prod", true),
            ("attribute:stack == prod", false),
        ];
        for (text, want) in cases {
            let m = MemberOf::parse(text).unwrap_or_else(|| panic!("parses: {text}"));
            assert_eq!(m.holds(&g4), Some(want), "{text}");
        }
    }

    #[test]
    fn member_of_refuses_what_it_cannot_evaluate() {
        for text in [
            "",
            "attribute:ecs.instance-type =~ g4dn.*",
            "attribute:ecs.instance-type == a or attribute:ecs.instance-type == b",
            "(attribute:team == ml)",
            "task:group == service:web",
            "ec2InstanceId in ['i-1']",
            "attribute:team",
            "attribute:team == ",
            "attribute:team in [a b]",
            "attribute:team in a, b",
            "attribute:team exists yes",
            "runningTasksCount == 0",
        ] {
            assert_eq!(MemberOf::parse(text), None, "{text}");
        }
    }

    #[test]
    fn unknown_attributes_are_never_guessed() {
        let m = MemberOf::parse("attribute:ecs.availability-zone == us-east-1a").expect("parses");
        let mut a = attrs(&[("ecs.instance-type", "m5.large")]);
        a.unknown.insert("ecs.availability-zone".into());
        assert_eq!(m.holds(&a), None);
        let nothing = Attributes {
            all_unknown: true,
            ..Attributes::default()
        };
        assert_eq!(m.holds(&nothing), None);
        let needs = Needs {
            member_of: vec![m],
            ..Needs::default()
        };
        let offer = Offer {
            attributes: Arc::new(a),
            ..Offer::default()
        };
        assert!(!needs.met_by(&offer, None));
        assert!(needs.why_not(&offer, None).contains("not known"));
    }

    #[test]
    fn ports_gpus_and_enis_are_taken() {
        let needs = Needs {
            ports: vec![HostPort::tcp(80)],
            gpus: 1,
            eni: true,
            ..Needs::default()
        };
        let mut offer = Offer {
            ports: vec![HostPort::udp(80)],
            gpus: 2,
            ..Offer::default()
        };
        assert!(needs.met_by(&offer, Some(2)));
        needs.take_from(&mut offer);
        assert_eq!((offer.gpus, offer.eni_tasks), (1, 1));
        assert!(!needs.met_by(&offer, None), "80/tcp is taken now");
        let other_port = Needs {
            ports: vec![HostPort::tcp(81)],
            ..needs.clone()
        };
        assert!(other_port.met_by(&offer, Some(2)));
        assert!(
            !other_port.met_by(&offer, Some(1)),
            "one ENI left for tasks, taken"
        );
        other_port.take_from(&mut offer);
        assert!(!Needs {
            gpus: 1,
            ..Needs::default()
        }
        .met_by(&offer, None));
        assert!(
            Needs::default().met_by(&offer, Some(0)),
            "plain tasks take no ENI"
        );
    }

    #[test]
    fn a_new_instance_reserves_the_daemons_that_may_run_there() {
        use crate::decide::fixtures::*;
        use shared::state::Scheduling;
        let mut a = instance(1, InstanceStatus::Active, vec![]);
        let mut b = instance(2, InstanceStatus::Active, vec![]);
        a.placement
            .attributes
            .insert("ecs.availability-zone".into(), "us-east-1a".into());
        b.placement
            .attributes
            .insert("ecs.availability-zone".into(), "us-east-1b".into());
        for ci in [&mut a, &mut b] {
            ci.placement
                .attributes
                .insert("ecs.instance-type".into(), "m5.large".into());
            ci.placement.gpus = 1;
        }
        b.placement.gpus = 2;
        let daemon = |name: &str, member_of: &str, gpu: u32, port: u16| {
            let mut s = service_state(name, 1, Resources::new(128, 64));
            s.placement.scheduling = Scheduling::Daemon;
            s.placement.host_ports = vec![HostPort::udp(port)];
            s.placement.member_of = (!member_of.is_empty())
                .then(|| member_of.to_owned())
                .into_iter()
                .collect();
            s.gpu = gpu;
            s
        };
        let st = state(
            vec![
                daemon("everywhere", "", 0, 8125),
                daemon(
                    "zone-a",
                    "attribute:ecs.availability-zone == us-east-1a",
                    0,
                    8126,
                ),
                daemon("not-m5", "attribute:ecs.instance-type != m5.large", 0, 8127),
                daemon("two-gpus", "", 2, 8128),
            ],
            vec![a, b],
            0,
            5,
        );
        let launch =
            super::super::instances::new_size(&super::super::fixtures::cluster(vec![]), &st);
        let new = new_instance(&st, &launch);
        assert_eq!(new.offer.gpus, 1, "the smallest GPU count of the group");
        assert_eq!(
            new.daemon_services,
            ["everywhere", "zone-a"],
            "the zone is unknown (the instances disagree): reserved; m5 is known: not-m5 is not"
        );
        assert_eq!(new.daemons, Resources::new(256, 128));
        assert_eq!(new.offer.ports, [HostPort::udp(8125), HostPort::udp(8126)]);
        assert_eq!(
            new.offer.attributes.get("ecs.instance-type"),
            Some(Some("m5.large"))
        );
        assert_eq!(new.offer.attributes.get("ecs.availability-zone"), None);
        let fresh = fresh_bin(BinKind::New, SIZE, &new);
        assert_eq!(fresh.free, SIZE.saturating_sub(Resources::new(256, 128)));
    }
}
