//! What a task asks of a container instance besides CPU and memory (host ports, GPUs, `memberOf`
//! expressions on attributes, an ENI) and what an instance offers: the one placement check
//! ([`Needs::met_by`]) of the planner's packing simulation and of the executor's drain re-check.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::state::{ContainerInstance, HostPort};

/// What one task of a service needs from an instance besides CPU and memory. A drain in a plan
/// carries it per task, so that the executor re-checks the same needs on the live instances.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Needs {
    /// Static host ports it binds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<HostPort>,
    /// GPUs it reserves.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gpus: u32,
    /// Every `memberOf` expression, parsed; all must hold (in a message: the expressions as
    /// written; one this model does not evaluate does not decode).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<String>")]
    pub member_of: Vec<MemberOf>,
    /// `awsvpc`: it takes one of the instance's ENIs (see [`Offer::eni_limit`] and
    /// `max_tasks_per_instance`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub eni: bool,
    /// Why its placement cannot be judged (a constraint or network mode not understood): such a
    /// task is placed nowhere, never on a guess. Never in a message (such a task is not moved).
    #[serde(skip)]
    pub not_understood: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What an instance offers besides CPU and memory, after what the simulation placed on it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Offer {
    /// Host ports in use.
    pub ports: Vec<HostPort>,
    /// GPUs free.
    pub gpus: u32,
    /// Its attributes.
    pub attributes: Arc<Attributes>,
    /// `awsvpc` tasks on it (ENIs taken).
    pub eni_tasks: u32,
    /// `awsvpc` tasks it can hold by its instance type's ENIs ([`crate::eni`]); `None`: not
    /// limited (unknown type, see the README). The cluster's `max_tasks_per_instance` overrides it.
    pub eni_limit: Option<u32>,
}

impl Offer {
    /// What a registered container instance offers now (its ports in use, free GPUs,
    /// attributes, and the awsvpc limit of its instance type); no `awsvpc` task counted on it.
    pub fn of(ci: &ContainerInstance) -> Offer {
        Offer {
            ports: ci.placement.ports_in_use.clone(),
            gpus: ci.placement.gpus_free,
            attributes: Arc::new(Attributes {
                values: ci.placement.attributes.clone(),
                ..Attributes::default()
            }),
            eni_tasks: 0,
            eni_limit: crate::eni::awsvpc_task_limit(&ci.placement.attributes),
        }
    }
}

/// An instance's attributes, as far as they are known.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attributes {
    /// Known values (empty string: the attribute is set without a value).
    pub values: BTreeMap<String, String>,
    /// Attributes whose value is unknown (a new instance where the group's instances disagree).
    pub unknown: BTreeSet<String>,
    /// Nothing but `values` is known (a new instance of a group with no registered instance:
    /// its instance type and zone may be known, nothing else).
    pub all_unknown: bool,
}

impl Attributes {
    /// The value of `name`: `Some(None)` when known to be absent, `None` when unknown.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        if self.unknown.contains(name) {
            return None;
        }
        match self.values.get(name) {
            Some(v) => Some(Some(v)),
            None if self.all_unknown => None,
            None => Some(None),
        }
    }
}

impl Needs {
    /// Whether it needs nothing but CPU and memory.
    pub fn is_plain(&self) -> bool {
        self.ports.is_empty()
            && self.gpus == 0
            && self.member_of.is_empty()
            && !self.eni
            && self.not_understood.is_none()
    }

    /// Whether an instance offering `offer` can take one more task, within `max_tasks` (the
    /// cluster's `max_tasks_per_instance`, when set) else the offer's own limit of `awsvpc`
    /// tasks (CPU and memory are the caller's).
    pub fn met_by(&self, offer: &Offer, max_tasks: Option<u32>) -> bool {
        self.not_understood.is_none()
            && offer.gpus >= self.gpus
            && self.ports.iter().all(|p| !offer.ports.contains(p))
            && (!self.eni
                || max_tasks
                    .or(offer.eni_limit)
                    .is_none_or(|l| offer.eni_tasks < l))
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

    /// Gives back to `offer` what [`Needs::take_from`] took for one task (a task moved off).
    pub fn give_back_to(&self, offer: &mut Offer) {
        offer.gpus = offer.gpus.saturating_add(self.gpus);
        for p in &self.ports {
            if let Some(at) = offer.ports.iter().rposition(|q| q == p) {
                offer.ports.remove(at);
            }
        }
        if self.eni {
            offer.eni_tasks = offer.eni_tasks.saturating_sub(1);
        }
    }

    /// Why a new (empty) instance offering `offer` cannot take the task, for the record.
    pub fn why_not(&self, offer: &Offer, max_tasks: Option<u32>) -> String {
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
        if self.eni && max_tasks.or(offer.eni_limit) == Some(0) {
            return "no ENI for an awsvpc task".into();
        }
        if let Some(m) = self
            .member_of
            .iter()
            .find(|m| m.holds(&offer.attributes) != Some(true))
        {
            let attributes = &offer.attributes;
            let read = m.clauses.iter().map(|c| c.attribute.as_str());
            return match m.holds(attributes) {
                None => {
                    let unknown: Vec<String> = read
                        .filter(|a| attributes.get(a).is_none())
                        .map(|a| format!("`{a}`"))
                        .collect();
                    format!(
                        "memberOf `{}`: a new instance's {} not known (the group's instances disagree, none is registered, or Auto Scaling may launch it in any of several zones)",
                        m.text,
                        unknown.join(", ") + if unknown.len() == 1 { " is" } else { " are" }
                    )
                }
                _ => {
                    let seen: Vec<String> = read
                        .map(|a| match attributes.get(a) {
                            Some(Some(v)) => format!("{a} is {v}"),
                            _ => format!("{a} is not set"),
                        })
                        .collect();
                    format!(
                        "memberOf `{}` does not hold on a new instance ({})",
                        m.text,
                        seen.join(", ")
                    )
                }
            };
        }
        "no instance meets its placement constraints".into()
    }
}

/// One `memberOf` expression of the forms this model evaluates: `attribute:NAME == V`,
/// `!= V`, `in [V, ...]`, `not_in [V, ...]`, `exists`, `!exists`, joined by `and`. In a message:
/// the expression as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MemberOf {
    /// As written.
    pub text: String,
    clauses: Vec<Clause>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    attribute: String,
    test: Test,
}

#[derive(Debug, Clone, PartialEq, Eq)]
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

impl TryFrom<String> for MemberOf {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        MemberOf::parse(&text).ok_or_else(|| {
            format!(
                "memberOf `{}` is not an expression this model evaluates",
                crate::shown::shown(&text, 120)
            )
        })
    }
}

impl From<MemberOf> for String {
    fn from(m: MemberOf) -> String {
        m.text
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
        let why = needs.why_not(&offer, None);
        assert!(
            why.contains("`ecs.availability-zone` is not known"),
            "{why}"
        );
    }

    #[test]
    fn a_new_instance_knows_what_it_was_told_and_nothing_else() {
        // No instance registered: the zone Auto Scaling launches in is known, the rest is not.
        let zone =
            MemberOf::parse("attribute:ecs.availability-zone == us-east-1a").expect("parses");
        let os = MemberOf::parse("attribute:ecs.os-type == linux").expect("parses");
        let new = Attributes {
            all_unknown: true,
            ..attrs(&[("ecs.availability-zone", "us-east-1b")])
        };
        assert_eq!(zone.holds(&new), Some(false));
        assert_eq!(os.holds(&new), None);
        let needs = Needs {
            member_of: vec![zone],
            ..Needs::default()
        };
        let offer = Offer {
            attributes: Arc::new(new),
            ..Offer::default()
        };
        let why = needs.why_not(&offer, None);
        assert!(
            why.contains("does not hold on a new instance (ecs.availability-zone is us-east-1b)"),
            "{why}"
        );
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
        let before = offer.clone();
        let no_gpu = Needs {
            gpus: 0,
            ..other_port.clone()
        };
        no_gpu.take_from(&mut offer);
        no_gpu.give_back_to(&mut offer);
        assert_eq!(offer, before, "giving back undoes a take");
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
}
