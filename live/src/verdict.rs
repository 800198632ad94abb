//! The verdict banner: on track, at risk or no-go, and why, from the
//! forecast, the plan's readiness gates and what the bridge decided.
//!
//! The rules, in order of weight:
//! - **no-go**: the latest go/no-go decision is no-go; a rollback, cancel or
//!   abort was decided; a readiness gate is not met; downtime began after
//!   the window's end; or fewer than half the runs go live in the window.
//! - **at risk**: the latest go/no-go decision is a conditional go;
//!   P(success) is below the plan's `window_confidence` (90 % when it
//!   states none); a step runs past its P90.
//! - **on track** otherwise.

use rehearse_core::readiness::Readiness;
use rehearse_core::scenario::Scenario;
use rehearse_sim::forecast::{Alarm, Forecast};
use rehearse_sim::track::{Log, Record};
use serde_json::{Value, json};

/// The confidence a plan that states none is held to.
pub const DEFAULT_CONFIDENCE: f64 = 0.9;

/// Below this P(success), the verdict is no-go whatever else holds.
pub const NO_GO_BELOW: f64 = 0.5;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    OnTrack,
    AtRisk,
    NoGo,
}

impl Level {
    pub fn key(self) -> &'static str {
        match self {
            Level::OnTrack => "on-track",
            Level::AtRisk => "at-risk",
            Level::NoGo => "no-go",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Level::OnTrack => "ON TRACK",
            Level::AtRisk => "AT RISK",
            Level::NoGo => "NO-GO",
        }
    }
}

/// The bridge's latest go/no-go call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub action: String,
    pub by: Option<String>,
    pub why: String,
    pub at: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub level: Level,
    pub reasons: Vec<String>,
    /// Readiness: `Some(unmet gates)` when the plan states its gates.
    pub unmet_gates: Option<Vec<String>>,
    pub call: Option<Call>,
    pub p_success: f64,
    pub needed: f64,
}

impl Verdict {
    pub fn to_json(&self) -> Value {
        json!({
            "level": self.level.key(),
            "label": self.level.label(),
            "reasons": self.reasons,
            "readiness": self.unmet_gates.as_ref().map(|u| json!({ "go": u.is_empty(), "unmet": u })),
            "call": self.call.as_ref().map(|c| json!({ "action": c.action, "by": c.by, "why": c.why, "at": c.at })),
            "p_success": self.p_success,
            "needed": self.needed,
        })
    }
}

/// What the verdict is judged from.
#[derive(Clone, Debug, Default)]
pub struct Facts<'a> {
    pub p_success: f64,
    pub needed: Option<f64>,
    pub alarms: &'a [Alarm],
    pub readiness: Option<&'a Readiness>,
    /// The latest go / conditional-go / no-go decision.
    pub call: Option<&'a str>,
    /// A rollback, cancel or abort was decided.
    pub stopped: Option<&'a str>,
}

/// The level and the reasons, from the facts alone.
pub fn judge(f: &Facts<'_>) -> (Level, Vec<String>) {
    let needed = f.needed.unwrap_or(DEFAULT_CONFIDENCE);
    let mut no_go = Vec::new();
    let mut risk = Vec::new();
    match f.call {
        Some("no-go") => no_go.push("the bridge decided no-go".to_string()),
        Some("conditional-go") => risk.push("the go is conditional".to_string()),
        _ => {}
    }
    if let Some(action) = f.stopped {
        no_go.push(format!("the bridge decided to {action}"));
    }
    if let Some(r) = f.readiness {
        let unmet: Vec<&str> = r.unmet().map(|g| g.def.id).collect();
        if !unmet.is_empty() {
            no_go.push(format!("readiness gates not met: {}", unmet.join(", ")));
        }
    }
    for a in f.alarms {
        match a {
            Alarm::BeganAfterDeadline => no_go.push("downtime began after the window's end".into()),
            Alarm::PastP90 { .. } => risk.push("a step runs past its P90".into()),
            Alarm::BelowConfidence { .. } => {}
        }
    }
    if f.p_success < NO_GO_BELOW {
        no_go.push(format!("only {:.1}% of runs go live in the window", 100.0 * f.p_success));
    } else if f.p_success < needed {
        risk.push(format!("P(success) {:.1}% is below the {:.0}% needed", 100.0 * f.p_success, 100.0 * needed));
    }
    if !no_go.is_empty() {
        no_go.extend(risk);
        (Level::NoGo, no_go)
    } else if !risk.is_empty() {
        (Level::AtRisk, risk)
    } else {
        (Level::OnTrack, vec![format!("P(success) {:.1}% (needed {:.0}%)", 100.0 * f.p_success, 100.0 * needed)])
    }
}

/// The verdict on the weekend of `log` with its forecast `f`.
pub fn verdict(sc: &Scenario, log: &Log, f: &Forecast) -> Verdict {
    let decisions = log.decisions();
    let call = decisions.iter().rev().find_map(|e| match &e.record {
        Record::Decision { action, why, .. } if ["go", "conditional-go", "no-go"].contains(&action.as_str()) => {
            Some(Call { action: action.clone(), by: e.by.clone(), why: why.clone(), at: e.at.to_string() })
        }
        _ => None,
    });
    let stopped = decisions.iter().rev().find_map(|e| match &e.record {
        Record::Decision { action, .. } if ["rollback", "cancel", "abort"].contains(&action.as_str()) => {
            Some(action.as_str())
        }
        _ => None,
    });
    let facts = Facts {
        p_success: f.estimate.p_success,
        needed: sc.meta.window_confidence,
        alarms: &f.alarms,
        readiness: sc.readiness.as_ref(),
        call: call.as_ref().map(|c| c.action.as_str()),
        stopped,
    };
    let (level, reasons) = judge(&facts);
    Verdict {
        level,
        reasons,
        unmet_gates: sc.readiness.as_ref().map(|r| r.unmet().map(|g| g.def.title.to_string()).collect()),
        call,
        p_success: f.estimate.p_success,
        needed: sc.meta.window_confidence.unwrap_or(DEFAULT_CONFIDENCE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: Facts<'_>, want: Level, says: &str) {
        let (level, reasons) = judge(&f);
        assert_eq!(level, want, "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains(says)), "{reasons:?} should say {says:?}");
    }

    #[test]
    fn the_verdict_follows_its_rules() {
        let past = [Alarm::PastP90 { step: rehearse_core::StepIdx(0), elapsed_ms: 2, p90_ms: 1 }];
        let late = [Alarm::BeganAfterDeadline];
        check(Facts { p_success: 0.95, ..Default::default() }, Level::OnTrack, "95.0%");
        check(Facts { p_success: 0.85, ..Default::default() }, Level::AtRisk, "below the 90% needed");
        check(Facts { p_success: 0.85, needed: Some(0.8), ..Default::default() }, Level::OnTrack, "needed 80%");
        check(Facts { p_success: 0.95, alarms: &past, ..Default::default() }, Level::AtRisk, "past its P90");
        check(Facts { p_success: 0.4, ..Default::default() }, Level::NoGo, "only 40.0%");
        check(Facts { p_success: 0.99, call: Some("no-go"), ..Default::default() }, Level::NoGo, "decided no-go");
        check(
            Facts { p_success: 0.99, call: Some("conditional-go"), ..Default::default() },
            Level::AtRisk,
            "conditional",
        );
        check(Facts { p_success: 0.99, call: Some("go"), ..Default::default() }, Level::OnTrack, "99.0%");
        check(Facts { p_success: 0.99, stopped: Some("rollback"), ..Default::default() }, Level::NoGo, "to rollback");
        check(Facts { p_success: 0.99, alarms: &late, ..Default::default() }, Level::NoGo, "after the window");
        let sc = Scenario::parse(
            "[scenario]\nname = \"t\"\n[readiness]\nuser-acceptance-tests = false\n[[step]]\nid = \"a\"\nduration = \"1h\"\n",
            "t.toml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let r = sc.readiness.as_ref().unwrap();
        check(
            Facts { p_success: 0.99, readiness: Some(r), ..Default::default() },
            Level::NoGo,
            "user-acceptance-tests",
        );
    }
}
