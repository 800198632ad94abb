//! Fault sites (a fault on a step) and what they draw: whether a site may
//! strike in a run, and where, if at all, it strikes an attempt.

use rehearse_core::dist::{round_ms, unit};
use rehearse_core::event::Mode;
use rehearse_core::fault::FaultIdx;
use rehearse_core::scenario::StepIdx;

use super::{FaultMode, Injection, RunOptions, Simulator};
use crate::rng::{self, Purpose};

impl Simulator<'_, '_> {
    /// Which fault sites may strike in this run.
    pub(super) fn switch_sites(&mut self, opts: &RunOptions) {
        let plan = self.plan;
        match &opts.faults {
            FaultMode::Swarm if opts.mode == Mode::Random => {
                for (site, key) in plan.site_keys.iter().enumerate() {
                    let mut s = rng::stream(opts.seed, opts.run, Purpose::Swarm, *key, 0);
                    self.site_on[site] = unit(&mut s) < 0.5;
                }
            }
            FaultMode::Probabilistic if opts.mode == Mode::Random => self.site_on.fill(true),
            FaultMode::Without(off) if opts.mode == Mode::Random => {
                for &(site, f) in &plan.sites.edges {
                    self.site_on[site.index()] = f != *off;
                }
            }
            _ => self.site_on.fill(false),
        }
    }

    /// Does a fault strike attempt `attempt` (of `dur` ms) of step `i`? Of
    /// the sites that fire, the one that strikes first wins (ties: fault
    /// file order): a fault that would strike later never gets the chance.
    /// Every site draws the same numbers in every mode, so a scripted
    /// replay of the faults that struck strikes at the same points.
    /// Returns (the work done when it strikes, the fault, that share).
    pub(super) fn first_strike(
        &self,
        i: usize,
        attempt: u32,
        dur: u64,
        opts: &RunOptions,
    ) -> Option<(u64, FaultIdx, f64)> {
        let plan = self.plan;
        let mut first: Option<(u64, FaultIdx, f64)> = None;
        for &(site, f) in plan.sites.of(i) {
            let fault = &plan.odds[f.index()];
            let scripted = match &opts.faults {
                FaultMode::Scripted(list) => list.contains(&Injection { fault: f, step: StepIdx(i as u32), attempt }),
                _ => false,
            };
            let site_idx = site.index();
            if !(self.site_persistent[site_idx] || scripted || self.site_on[site_idx]) {
                continue; // this site cannot strike: no need to draw (each site has its own stream)
            }
            let mut draws = SiteDraws::new(self.fault_base, plan.site_keys[site_idx], attempt);
            let fires = self.site_persistent[site_idx] || scripted || draws.fire() < fault.probability;
            if fires {
                let share = match opts.mode {
                    Mode::Median => (fault.at.0 + fault.at.1) / 2.0,
                    Mode::Random => fault.at.0 + (fault.at.1 - fault.at.0) * draws.at(),
                };
                let lost = round_ms(dur as f64 * share);
                if first.is_none_or(|(best, _, _)| lost < best) {
                    first = Some((lost, f, share));
                }
            }
        }
        first
    }
}

/// What a fault site draws for one attempt, from its own stream, in this
/// order: whether it fires (below the fault's probability), where in the
/// attempt it strikes (a share of the fault's `at` range), and, for an
/// unknown outcome, whether the attempt had in fact completed (below one
/// half). Each is drawn when first asked for, in that order whatever the
/// order of asking: a straight run asks only whether a site fires, a
/// strike what came of it. The order is part of the stream format.
pub(super) struct SiteDraws {
    stream: rng::Stream,
    drawn: [f64; 3],
    n: usize,
}

impl SiteDraws {
    #[inline]
    pub(super) fn new(base: rng::StreamBase, site_key: u64, attempt: u32) -> SiteDraws {
        SiteDraws { stream: base.stream(site_key, u64::from(attempt)), drawn: [0.0; 3], n: 0 }
    }

    #[inline]
    fn draw(&mut self, k: usize) -> f64 {
        while self.n <= k {
            self.drawn[self.n] = unit(&mut self.stream);
            self.n += 1;
        }
        self.drawn[k]
    }

    /// Fires when below the fault's probability.
    #[inline]
    pub(super) fn fire(&mut self) -> f64 {
        self.draw(0)
    }

    /// Where in its `at` range the fault strikes.
    #[inline]
    pub(super) fn at(&mut self) -> f64 {
        self.draw(1)
    }

    /// An unknown outcome had in fact completed when below one half.
    #[inline]
    pub(super) fn completed(&mut self) -> f64 {
        self.draw(2)
    }
}
