//! Gates on an estimate (`--fail-if "p90 > 40h"`): the little language of
//! `METRIC OP VALUE`, parsed once, and whether a gate holds on an estimate.

use rehearse_core::event::Outcome;
use rehearse_core::time::{DurationError, SimDuration};

use super::{Estimate, QUANTILES};

/// Why a gate could not be parsed or decided. Each names the gate as the
/// user wrote it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GateError {
    #[error("{gate:?}: expected METRIC OP VALUE, e.g. \"p90 > 40h\" or \"p_success < 0.9\"")]
    Syntax { gate: String },
    #[error("{gate:?}: unknown metric {metric:?}; expected {METRICS}")]
    UnknownMetric { gate: String, metric: String },
    /// `p_fit` counted a rolled-back go-live as fitting the window.
    #[error(
        "{gate:?}: p_fit is gone (schema 3): it counted a rolled-back go-live as fitting the window; use p_success (committed inside the window) or p_rollback"
    )]
    Renamed { gate: String },
    #[error("{gate:?}: {error}")]
    Duration { gate: String, error: DurationError },
    #[error("{gate:?}: {value:?} is not a share between 0 and 1")]
    Share { gate: String, value: String },
    /// The downtime of committed runs is unknown when none committed.
    #[error("{gate:?}: no run committed, so the committed runs' downtime is unknown")]
    Unknown { gate: String },
}

/// The metrics a gate may name.
const METRICS: &str = "p50 p80 p90 p95 p99 mean max (committed runs' downtime) p_success p_rollback p_commit";

/// What a gate measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// A committed runs' downtime quantile (`p50` ... `p99`), in ms.
    Quantile(f64),
    /// The committed runs' mean downtime, in ms.
    Mean,
    /// The committed runs' longest downtime, in ms.
    Max,
    /// The share of runs that committed inside the window.
    PSuccess,
    /// The share of runs that rolled back.
    PRollback,
    /// The share of runs that committed.
    PCommit,
}

impl Metric {
    /// The metric of a name (`p90`, `mean`, `p_success`, ...; lower case).
    pub fn parse(name: &str) -> Option<Metric> {
        Some(match name {
            "mean" => Metric::Mean,
            "max" => Metric::Max,
            "p_success" => Metric::PSuccess,
            "p_rollback" => Metric::PRollback,
            "p_commit" => Metric::PCommit,
            q => Metric::Quantile(QUANTILES.iter().find(|(n, _)| *n == q)?.1),
        })
    }

    /// Its value in an estimate; `None` for the committed runs' downtime
    /// when none committed.
    pub fn of(self, e: &Estimate) -> Option<f64> {
        Some(match self {
            Metric::Mean => e.mean_ms?,
            Metric::Max => *e.committed_sorted.last()? as f64,
            Metric::PSuccess => e.p_success,
            Metric::PRollback => e.share(Outcome::RolledBack),
            Metric::PCommit => e.share(Outcome::Committed),
            Metric::Quantile(q) => e.committed_quantile(q)? as f64,
        })
    }

    /// Whether its values are shares (0 to 1) rather than durations.
    fn is_share(self) -> bool {
        matches!(self, Metric::PSuccess | Metric::PRollback | Metric::PCommit)
    }
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    /// The operators as written; at one place, the longer one is meant.
    const ALL: [(&'static str, Op); 4] = [(">=", Op::Ge), ("<=", Op::Le), (">", Op::Gt), ("<", Op::Lt)];

    fn holds(self, v: f64, bound: f64) -> bool {
        match self {
            Op::Gt => v > bound,
            Op::Ge => v >= bound,
            Op::Lt => v < bound,
            Op::Le => v <= bound,
        }
    }
}

/// A gate: the estimate fails it when `metric op value` holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    /// As the user wrote it.
    pub text: String,
    pub metric: Metric,
    pub op: Op,
    /// In ms for durations, as a share otherwise.
    pub value: f64,
}

impl Gate {
    /// Parses `METRIC OP VALUE` (`p90 > 40h`, `p_success<0.9`, `mean >= 1h30m`).
    ///
    /// # Errors
    /// No operator, an unknown metric, a malformed duration, or a share
    /// outside 0..=1.
    pub fn parse(text: &str) -> Result<Gate, GateError> {
        let gate = || text.to_string();
        let Some((at, sym, op)) = Op::ALL
            .iter()
            .filter_map(|(sym, op)| text.find(sym).map(|i| (i, *sym, *op)))
            .min_by_key(|(i, sym, _)| (*i, std::cmp::Reverse(sym.len())))
        else {
            return Err(GateError::Syntax { gate: gate() });
        };
        let name = text[..at].trim().to_ascii_lowercase();
        let raw = text[at + sym.len()..].trim();
        if name == "p_fit" {
            return Err(GateError::Renamed { gate: gate() });
        }
        let Some(metric) = Metric::parse(&name) else {
            return Err(GateError::UnknownMetric { gate: gate(), metric: name });
        };
        let value = if metric.is_share() {
            match raw.parse::<f64>() {
                Ok(v) if (0.0..=1.0).contains(&v) => v,
                _ => return Err(GateError::Share { gate: gate(), value: raw.to_string() }),
            }
        } else {
            SimDuration::parse(raw).map_err(|error| GateError::Duration { gate: gate(), error })?.as_ms() as f64
        };
        Ok(Gate { text: text.to_string(), metric, op, value })
    }

    /// Whether the estimate fails the gate; `None` when its metric is
    /// unknown (no run committed).
    pub fn fails(&self, e: &Estimate) -> Option<bool> {
        self.metric.of(e).map(|v| self.op.holds(v, self.value))
    }
}

/// The gates the estimate fails, in the order given.
///
/// # Errors
/// The first gate whose metric the estimate does not know.
pub fn failed<'g>(gates: &'g [Gate], e: &Estimate) -> Result<Vec<&'g Gate>, GateError> {
    if let Some(g) = gates.iter().find(|g| g.fails(e).is_none()) {
        return Err(GateError::Unknown { gate: g.text.clone() });
    }
    Ok(gates.iter().filter(|g| g.fails(e) == Some(true)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<(Metric, Op, f64), &str>) {
        let got = Gate::parse(text).map(|g| (g.metric, g.op, g.value)).map_err(|e| e.to_string());
        assert_eq!(got, expected.map_err(str::to_string), "{text:?}");
    }

    #[test]
    fn gates_parse() {
        check("p90 > 40h", Ok((Metric::Quantile(0.9), Op::Gt, 40.0 * 3_600_000.0)));
        check("p_success<0.9", Ok((Metric::PSuccess, Op::Lt, 0.9)));
        check("p_rollback > 0.05", Ok((Metric::PRollback, Op::Gt, 0.05)));
        check("mean >= 1h30m", Ok((Metric::Mean, Op::Ge, 5_400_000.0)));
        check("P99<=2h", Ok((Metric::Quantile(0.99), Op::Le, 7_200_000.0)));
        check("p_commit > 0", Ok((Metric::PCommit, Op::Gt, 0.0)));
        check(
            "p91 > 1h",
            Err(
                r#""p91 > 1h": unknown metric "p91"; expected p50 p80 p90 p95 p99 mean max (committed runs' downtime) p_success p_rollback p_commit"#,
            ),
        );
        check("p_success < 2", Err(r#""p_success < 2": "2" is not a share between 0 and 1"#));
        check("p90 40h", Err(r#""p90 40h": expected METRIC OP VALUE, e.g. "p90 > 40h" or "p_success < 0.9""#));
        assert!(matches!(Gate::parse("p90 > 4x"), Err(GateError::Duration { .. })));
        assert!(matches!(Gate::parse("p_fit < 0.9"), Err(GateError::Renamed { .. })));
    }

    /// An estimate of ten runs, 1 h to 10 h: seven committed (1 h to 7 h),
    /// three rolled back; `fit` of them inside the window.
    fn estimate(committed: u64) -> Estimate {
        let hours = |from: u64, to: u64| -> Vec<u64> { (from..=to).map(|h| h * 3_600_000).collect() };
        let all = hours(1, 10);
        let committed_sorted = hours(1, committed);
        Estimate {
            measure: super::super::Measure::Downtime,
            runs: 10,
            seed: 0,
            downtime_by_run: all.clone(),
            outcome_by_run: (1..=10)
                .map(|h| if h <= committed { Outcome::Committed } else { Outcome::RolledBack })
                .collect(),
            mean_ms: (committed > 0).then(|| committed_sorted.iter().sum::<u64>() as f64 / committed as f64),
            downtime_sorted: all,
            outage_sorted: hours(committed + 1, 10),
            committed_sorted,
            step_mean_ms: Vec::new(),
            p90_ci: None,
            converged_after: None,
            outcomes: [(Outcome::Committed, committed), (Outcome::RolledBack, 10 - committed)].into_iter().collect(),
            window: None,
            p_success: committed as f64 / 10.0,
            criticality: Vec::new(),
            sensitivity: Vec::new(),
            drivers: Vec::new(),
            faults: Vec::new(),
            point_of_no_return: None,
            checkpoints: None,
            call_sheet: Vec::new(),
        }
    }

    #[test]
    fn a_gate_fails_when_its_condition_holds() {
        let e = estimate(7);
        let fails = |text: &str| Gate::parse(text).unwrap().fails(&e);
        // Committed runs only: 1 h to 7 h.
        assert_eq!(fails("p90 > 6h"), Some(true));
        assert_eq!(fails("p90 > 7h"), Some(false));
        assert_eq!(fails("p90 >= 7h"), Some(true));
        assert_eq!(fails("max < 7h"), Some(false));
        assert_eq!(fails("max <= 7h"), Some(true));
        assert_eq!(fails("mean > 3h59m"), Some(true));
        assert_eq!(fails("mean > 4h"), Some(false));
        assert_eq!(fails("p_commit < 0.75"), Some(true));
        assert_eq!(fails("p_success < 0.7"), Some(false));
        assert_eq!(fails("p_rollback > 0.25"), Some(true));
        assert_eq!(fails("p50 > 4h"), Some(false), "nearest rank: the 4th of 7");
    }

    #[test]
    fn without_a_committed_run_its_downtime_is_unknown() {
        let gates: Vec<Gate> = ["p_success < 0.9", "p90 > 1h"].map(|g| Gate::parse(g).unwrap()).into();
        let failed: Vec<&str> = failed(&gates, &estimate(7)).unwrap().iter().map(|g| g.text.as_str()).collect();
        assert_eq!(failed, ["p_success < 0.9", "p90 > 1h"]);
        assert_eq!(
            super::failed(&gates, &estimate(0)).unwrap_err().to_string(),
            r#""p90 > 1h": no run committed, so the committed runs' downtime is unknown"#
        );
    }
}
