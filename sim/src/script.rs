//! Fault schedules written for people: `FAULT@STEP[#ATTEMPT]` or
//! `FAULT@STEP#FIRST..LAST` (every attempt from FIRST to LAST: a fault
//! that persists), as taken by `rehearse run --fault` and printed by
//! `rehearse check` to reproduce a run.

use rehearse_core::Scenario;
use rehearse_core::fault::FaultIdx;

use crate::engine::Injection;

/// Parses `FAULT@STEP` or `FAULT@STEP#ATTEMPT` (attempt 1 by default).
///
/// # Errors
/// A message naming what is unknown, with a suggestion where one fits.
pub fn parse_injection(spec: &str, scenario: &Scenario) -> Result<Injection, ScriptError> {
    let at = |why| ScriptError { spec: spec.to_string(), why };
    let (fault_id, rest) = spec.split_once('@').ok_or_else(|| at(Why::Shape))?;
    let (step_id, attempt) = match rest.split_once('#') {
        Some((s, a)) => {
            let n: u32 = a.parse().map_err(|_| at(Why::Attempt(a.to_string())))?;
            if n == 0 {
                return Err(at(Why::AttemptZero));
            }
            (s, n)
        }
        None => (rest, 1),
    };
    let Some(f) = scenario.faults.iter().position(|f| f.id == fault_id) else {
        let known: Vec<&str> = scenario.faults.iter().map(|f| f.id.as_str()).collect();
        let hint = did_you_mean(fault_id, &known);
        let known = if known.is_empty() { "(none)".to_string() } else { known.join(", ") };
        return Err(at(Why::UnknownFault { fault: fault_id.to_string(), hint, known }));
    };
    let fault = &scenario.faults[f];
    let Some(step) = scenario.find(step_id) else {
        let ids: Vec<&str> = scenario.steps.iter().map(|s| s.id.as_str()).collect();
        return Err(at(Why::UnknownStep { step: step_id.to_string(), hint: did_you_mean(step_id, &ids) }));
    };
    if !fault.steps.contains(&step) {
        let can: Vec<&str> = fault.steps.iter().map(|s| scenario.step(*s).id.as_str()).collect();
        return Err(at(Why::CannotStrike {
            fault: fault_id.to_string(),
            step: step_id.to_string(),
            can: can.join(", "),
        }));
    }
    Ok(Injection { fault: FaultIdx(f as u32), step, attempt })
}

/// Parses `FAULT@STEP`, `FAULT@STEP#ATTEMPT` or `FAULT@STEP#FIRST..LAST`
/// (each attempt of the range, at most 100,000).
///
/// # Errors
/// As [`parse_injection`]; a range that is empty, too long or not of
/// numbers.
pub fn parse_injections(spec: &str, scenario: &Scenario) -> Result<Vec<Injection>, ScriptError> {
    let Some((head, range)) = spec.rsplit_once('#').filter(|(_, r)| r.contains("..")) else {
        return parse_injection(spec, scenario).map(|i| vec![i]);
    };
    let at = |why| ScriptError { spec: spec.to_string(), why };
    let (a, b) = range.split_once("..").expect("checked");
    let first: u32 = a.parse().map_err(|_| at(Why::Attempt(a.to_string())))?;
    let last: u32 = b.parse().map_err(|_| at(Why::Attempt(b.to_string())))?;
    if first == 0 {
        return Err(at(Why::AttemptZero));
    }
    if last < first || last - first >= 100_000 {
        return Err(at(Why::Range(range.to_string())));
    }
    let one = parse_injection(&format!("{head}#{first}"), scenario)
        .map_err(|e| ScriptError { spec: spec.to_string(), why: e.why })?;
    Ok((first..=last).map(|attempt| Injection { attempt, ..one }).collect())
}

/// A schedule as `--fault` arguments: three or more consecutive attempts
/// of one fault on one step as one range.
pub fn format_schedule(list: &[Injection], scenario: &Scenario) -> Vec<String> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < list.len() {
        let mut j = k;
        while j + 1 < list.len()
            && list[j + 1].fault == list[k].fault
            && list[j + 1].step == list[k].step
            && list[j + 1].attempt == list[j].attempt + 1
        {
            j += 1;
        }
        if j - k >= 2 {
            out.push(format!("{}..{}", format_injection(&list[k], scenario), list[j].attempt));
            k = j + 1;
        } else {
            out.push(format_injection(&list[k], scenario));
            k += 1;
        }
    }
    out
}

/// A `--fault` that names no fault the scenario can inject, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--fault {spec:?}: {why}")]
pub struct ScriptError {
    pub spec: String,
    pub why: Why,
}

/// What is wrong with a `--fault`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Why {
    #[error("expected FAULT@STEP or FAULT@STEP#ATTEMPT")]
    Shape,
    #[error("attempt {0:?} is not a number; expected FAULT@STEP or FAULT@STEP#ATTEMPT")]
    Attempt(String),
    #[error("attempts count from 1")]
    AttemptZero,
    #[error("attempts {0:?}: expected FIRST..LAST with FIRST <= LAST, at most 100,000 attempts")]
    Range(String),
    #[error("unknown fault `{fault}`{hint}; the scenario's faults are: {known}")]
    UnknownFault { fault: String, hint: String, known: String },
    #[error("unknown step `{step}`{hint}")]
    UnknownStep { step: String, hint: String },
    #[error("fault `{fault}` cannot strike `{step}`; it strikes: {can}")]
    CannotStrike { fault: String, step: String, can: String },
}

/// "; did you mean `x`?" when one of `names` is close to `wanted`.
fn did_you_mean(wanted: &str, names: &[&str]) -> String {
    rehearse_core::scenario::suggest(wanted, names).map_or(String::new(), |s| format!("; did you mean `{s}`?"))
}

/// `FAULT@STEP#ATTEMPT`.
pub fn format_injection(inj: &Injection, scenario: &Scenario) -> String {
    format!("{}@{}#{}", scenario.faults[inj.fault.index()].id, scenario.step(inj.step).id, inj.attempt)
}

#[cfg(test)]
mod tests {
    use rehearse_core::Scenario;

    use super::*;

    const PLAN: &str = r#"
[scenario]
name = "s"
[[step]]
id = "a"
duration = "1h"
[[step]]
id = "b"
after = ["a"]
duration = "1h"
[[fault]]
id = "f"
message = "m"
steps = ["a", "b"]
probability = 0.5
recovery = "again"
[recovery.again]
action = "retry"
reaction = "1m"
"#;

    /// A persistent fault prints as one range and reads back as every
    /// attempt of it; shorter runs stay one by one.
    #[test]
    fn ranges_print_and_read_back_as_the_same_schedule() {
        let sc = Scenario::parse(PLAN, "s.toml").unwrap();
        let one = |spec: &str| parse_injection(spec, &sc).unwrap();
        let mut schedule = vec![one("f@a#1"), one("f@a#2")];
        schedule.extend((3..=40).map(|a| Injection { attempt: a, ..one("f@b#1") }));
        schedule.push(one("f@a#5"));
        let printed = format_schedule(&schedule, &sc);
        assert_eq!(printed, ["f@a#1", "f@a#2", "f@b#3..40", "f@a#5"]);
        let read: Vec<Injection> = printed.iter().flat_map(|p| parse_injections(p, &sc).unwrap()).collect();
        assert_eq!(read, schedule);
        for bad in ["f@b#0..3", "f@b#5..4", "f@b#1..x", "f@b#1..200000", "g@b#1..3"] {
            assert!(parse_injections(bad, &sc).is_err(), "{bad}");
        }
    }
}
