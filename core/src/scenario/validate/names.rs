//! Steps by id, for every subject that names them: each id's step found
//! in a map, and the did-you-mean for an unknown one from an index built
//! once, when the first unknown id turns up, so that a plan full of
//! misspelt ids costs one index and a short search for each.

use std::cell::OnceCell;
use std::collections::BTreeMap;

use crate::scenario::model::StepIdx;
use crate::scenario::suggest::Suggester;

/// The steps' ids, in file order.
pub(super) struct StepNames<'s> {
    ids: Vec<&'s str>,
    /// Each id's first step (an id used twice is an error of its own).
    index: BTreeMap<&'s str, u32>,
    suggester: OnceCell<Suggester<'s>>,
}

impl<'s> StepNames<'s> {
    pub(super) fn new(ids: Vec<&'s str>) -> Self {
        let mut index = BTreeMap::new();
        for (i, id) in ids.iter().enumerate() {
            index.entry(*id).or_insert(i as u32);
        }
        StepNames { ids, index, suggester: OnceCell::new() }
    }

    /// The first step with id `id`.
    pub(super) fn find(&self, id: &str) -> Option<StepIdx> {
        self.index.get(id).map(|i| StepIdx(*i))
    }

    /// Step `i`'s id.
    pub(super) fn id(&self, i: usize) -> &'s str {
        self.ids[i]
    }

    /// "; did you mean `x`?" for a step id close to `id`, or nothing.
    pub(super) fn hint(&self, id: &str) -> String {
        self.suggester
            .get_or_init(|| Suggester::new(&self.ids))
            .suggest(id)
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default()
    }
}
