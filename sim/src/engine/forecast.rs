//! Runs from actuals (a forecast): a first attempt recorded as done lasts
//! as recorded; one still running lasts at least the time it has run,
//! drawn from its distribution restricted to that (`Conditional`); no fault
//! struck a step before now (none was recorded). When steps start is the
//! agenda's business (see `Simulator::start`).

use rehearse_core::event::Mode;
use rehearse_core::scenario::Work;

use super::{RunOptions, Simulator, plan};

impl Simulator<'_, '_> {
    /// A first attempt's duration from actuals, and the time before which
    /// no fault can have struck it (`u64::MAX`: none can; it is done).
    pub(super) fn actual_duration(
        &self,
        f: &plan::Forecasting,
        i: usize,
        at: u64,
        dur: u64,
        opts: &RunOptions,
    ) -> (u64, u64) {
        let a = &f.actuals;
        match (a.started_ms[i], a.done_ms[i]) {
            (_, Some(end)) => (end.saturating_sub(at), u64::MAX),
            (Some(_), None) => {
                let elapsed = a.now_ms.saturating_sub(at);
                let drawn = match (&f.conditional[i], opts.mode) {
                    (Some(c), Mode::Random) => c.sample(&mut self.duration_base.stream(self.plan.keys[i], 1)).as_ms(),
                    (Some(c), Mode::Median) => c.median().as_ms(),
                    // A sum of distributions (or one past its largest
                    // value): drawn again from the step's stream until long
                    // enough, which is the conditional distribution too;
                    // when 256 draws are not, it is overdue and ends now.
                    (None, Mode::Random) => match &self.plan.scenario.steps[i].work {
                        Work::Leaf(d) if dur < elapsed => {
                            let mut s = self.duration_base.stream(self.plan.keys[i], 1);
                            (0..256).map(|_| d.sample(&mut s).as_ms()).find(|v| *v >= elapsed).unwrap_or(elapsed)
                        }
                        _ => dur,
                    },
                    (None, Mode::Median) => dur,
                };
                (drawn.max(elapsed), a.now_ms)
            }
            (None, _) => (dur, 0),
        }
    }
}
