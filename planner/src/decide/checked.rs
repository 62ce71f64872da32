//! The planner's plans pass the executor's check against their cluster file
//! ([`shared::plan_check`]): on the generated clusters of the property tests, every plan is one
//! the executor applies rather than rejects.

use proptest::prelude::*;
use shared::plan_check::{check, check_live};

use super::fixtures::now;
use super::plan_traced;
use super::proptests::world;

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn every_plan_passes_the_executors_check((def, st, m) in world()) {
        // The loader refuses a file whose `min` is above its `max`.
        prop_assume!(def.min.zip(def.max).is_none_or(|(min, max)| min <= max));
        let (plan, _) = plan_traced(&def, &m, &st, now());
        let mut checked = check(&plan, std::slice::from_ref(&def));
        if let (Ok(()), Some(group)) = (&checked, &st.group) {
            checked = check_live(&plan, &def, group);
        }
        prop_assert!(checked.is_ok(), "{:?}\n{:#?}\nfile min {:?} max {:?}, group {:?}", checked, plan.actions, def.min, def.max, st.group.as_ref().map(|g| (g.min, g.max, g.desired)));
    }
}
