//! The agenda: what happens next, smallest time first, ties in insertion
//! order.
//!
//! Ordering contract: the agenda pops the entry with the smallest time;
//! among entries at the same time, the one inserted first (each entry
//! carries its insertion sequence number, unique within a run, so the order
//! is total and never depends on how entries are stored).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What an agenda entry makes happen to its step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Start,
    End,
    Strike,
    Recover,
    /// A rollback's or a cancel's undo is over.
    EndingDone,
    /// A go/no-go rule of the plan's own is due; the entry's "step" is the
    /// rule's index in `Scenario::decisions`.
    Decide,
}

/// One thing due: at `at`, the `seq`-th inserted in the run. Ordered by
/// (time, insertion seq) through the derived order of the fields as
/// declared; the sequence is unique, so what follows it never decides.
/// The step and kind share one word (the step above the low 3 bits), which
/// keeps an entry at 24 bytes: the sorted agenda moves entries around.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Entry {
    pub(super) at: u64,
    seq: u64,
    action: u32,
    /// The step's generation when scheduled: an abandon or a rerun bumps
    /// it, superseding what was scheduled before.
    pub(super) generation: u32,
}

impl Entry {
    #[inline]
    pub(super) fn new(at: u64, seq: u64, step: usize, kind: Kind, generation: u32) -> Entry {
        Entry { at, seq, action: ((step as u32) << 3) | kind as u32, generation }
    }

    #[inline]
    pub(super) fn step(self) -> usize {
        (self.action >> 3) as usize
    }

    /// Read from a table rather than matched: a match compiled to a jump
    /// of its own, ahead of the agenda loop's jump on the kind, and each
    /// mispredicted.
    #[inline]
    pub(super) fn kind(self) -> Kind {
        const KINDS: [Kind; 8] = [
            Kind::Start,
            Kind::End,
            Kind::Strike,
            Kind::Recover,
            Kind::EndingDone,
            Kind::Decide,
            Kind::Decide,
            Kind::Decide,
        ];
        KINDS[(self.action & 7) as usize]
    }
}

/// The agenda: entries smallest first.
///
/// A vector kept sorted largest first, so the next entry is popped from the
/// end. Agendas are short (the steps that are running or about to start),
/// where a binary search and a short move beat a binary heap's sifting; a
/// long one falls back to a heap.
#[derive(Debug)]
pub(super) enum Agenda {
    Sorted(Vec<Entry>),
    Heap(BinaryHeap<Reverse<Entry>>),
}

/// Beyond this many entries, moving entries costs more than sifting.
const SORTED_AGENDA_MAX: usize = 64;

impl Agenda {
    pub(super) fn with_capacity(n: usize) -> Self {
        Agenda::Sorted(Vec::with_capacity(n.min(SORTED_AGENDA_MAX)))
    }

    pub(super) fn clear(&mut self) {
        match self {
            Agenda::Sorted(v) => v.clear(),
            Agenda::Heap(h) => *self = Agenda::Sorted(Vec::with_capacity(h.len().min(SORTED_AGENDA_MAX))),
        }
    }

    /// Always inlined: called out of line, the entry went through the
    /// stack, written as its four fields and read back as wider words,
    /// which the processor cannot forward from its store buffer (a stall
    /// on every push, a fifth of a run's time, measured).
    #[inline(always)]
    pub(super) fn push(&mut self, e: Entry) {
        match self {
            Agenda::Sorted(v) if v.len() < SORTED_AGENDA_MAX => {
                // Entries are unique (the insertion seq), so the place is exact.
                let at = v.partition_point(|x| *x > e);
                v.insert(at, e);
            }
            Agenda::Sorted(v) => {
                let mut h: BinaryHeap<_> = v.drain(..).map(Reverse).collect();
                h.push(Reverse(e));
                *self = Agenda::Heap(h);
            }
            Agenda::Heap(h) => h.push(Reverse(e)),
        }
    }

    #[inline]
    pub(super) fn pop(&mut self) -> Option<Entry> {
        match self {
            Agenda::Sorted(v) => v.pop(),
            Agenda::Heap(h) => h.pop().map(|Reverse(e)| e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Agenda, Entry, Kind, SORTED_AGENDA_MAX};

    fn drain(agenda: &mut Agenda) -> Vec<(u64, usize)> {
        std::iter::from_fn(|| agenda.pop()).map(|e| (e.at, e.step())).collect()
    }

    /// Entries due at the same time pop in the order they were inserted,
    /// whatever their steps, kinds or generations.
    #[test]
    fn equal_times_pop_in_insertion_order() {
        let mut agenda = Agenda::with_capacity(8);
        let steps = [5, 1, 9, 0, 3];
        for (seq, &step) in steps.iter().enumerate() {
            agenda.push(Entry::new(10, seq as u64, step, Kind::End, 7 - seq as u32));
        }
        agenda.push(Entry::new(4, 99, 8, Kind::Start, 0));
        let got = drain(&mut agenda);
        assert_eq!(got[0], (4, 8), "the earliest time first");
        assert_eq!(got[1..].iter().map(|g| g.1).collect::<Vec<_>>(), steps);
    }

    /// Past 64 entries the agenda becomes a heap, with the same order: by
    /// time, then insertion; and it keeps a kind and step apiece.
    #[test]
    fn past_64_entries_a_heap_keeps_the_order() {
        let mut agenda = Agenda::with_capacity(4);
        let mut want = Vec::new();
        for seq in 0..200u64 {
            let at = (seq * 7919) % 13; // many ties, out of order
            let step = (seq as usize * 31) % 50;
            agenda.push(Entry::new(at, seq, step, Kind::Recover, 0));
            want.push((at, seq, step));
            if seq as usize == SORTED_AGENDA_MAX {
                assert!(matches!(agenda, Agenda::Heap(_)), "a heap past {SORTED_AGENDA_MAX} entries");
            }
        }
        want.sort();
        let first = agenda.pop().unwrap();
        assert_eq!(first.kind(), Kind::Recover);
        let mut got = vec![(first.at, first.step())];
        got.extend(drain(&mut agenda));
        assert_eq!(got, want.iter().map(|w| (w.0, w.2)).collect::<Vec<_>>());
        agenda.clear();
        assert!(matches!(agenda, Agenda::Sorted(_)), "a cleared agenda is a short one again");
    }

    /// An entry's step and kind survive the packing, up to large plans.
    #[test]
    fn entries_keep_their_step_and_kind() {
        for kind in [Kind::Start, Kind::End, Kind::Strike, Kind::Recover, Kind::EndingDone, Kind::Decide] {
            let e = Entry::new(1, 2, 123_456, kind, 3);
            assert_eq!((e.step(), e.kind(), e.generation), (123_456, kind, 3));
        }
        assert_eq!(std::mem::size_of::<Entry>(), 24);
    }
}
