//! Fault schedules written for people: `FAULT@STEP[#ATTEMPT]`, as taken by
//! `rehearse run --fault` and printed by `rehearse check` to reproduce a run.

use rehearse_core::Scenario;
use rehearse_core::fault::FaultIdx;

use crate::engine::Injection;

/// Parses `FAULT@STEP` or `FAULT@STEP#ATTEMPT` (attempt 1 by default).
///
/// # Errors
/// A message naming what is unknown, with a suggestion where one fits.
pub fn parse_injection(spec: &str, scenario: &Scenario) -> Result<Injection, String> {
    let expected = "expected FAULT@STEP or FAULT@STEP#ATTEMPT";
    let (fault_id, rest) = spec.split_once('@').ok_or_else(|| format!("--fault {spec:?}: {expected}"))?;
    let (step_id, attempt) = match rest.split_once('#') {
        Some((s, a)) => {
            let n: u32 =
                a.parse().map_err(|_| format!("--fault {spec:?}: attempt {a:?} is not a number; {expected}"))?;
            if n == 0 {
                return Err(format!("--fault {spec:?}: attempts count from 1"));
            }
            (s, n)
        }
        None => (rest, 1),
    };
    let Some(f) = scenario.faults.iter().position(|f| f.id == fault_id) else {
        let known: Vec<&str> = scenario.faults.iter().map(|f| f.id.as_str()).collect();
        return Err(format!(
            "--fault {spec:?}: unknown fault `{fault_id}`; the scenario's faults are: {}",
            if known.is_empty() { "(none)".to_string() } else { known.join(", ") }
        ));
    };
    let fault = &scenario.faults[f];
    let Some(step) = scenario.find(step_id) else {
        return Err(format!("--fault {spec:?}: unknown step `{step_id}`"));
    };
    if !fault.steps.contains(&step) {
        let can: Vec<&str> = fault.steps.iter().map(|s| scenario.step(*s).id.as_str()).collect();
        return Err(format!(
            "--fault {spec:?}: fault `{fault_id}` cannot strike `{step_id}`; it strikes: {}",
            can.join(", ")
        ));
    }
    Ok(Injection { fault: FaultIdx(f as u32), step, attempt })
}

/// `FAULT@STEP#ATTEMPT`.
pub fn format_injection(inj: &Injection, scenario: &Scenario) -> String {
    format!("{}@{}#{}", scenario.faults[inj.fault.index()].id, scenario.step(inj.step).id, inj.attempt)
}
