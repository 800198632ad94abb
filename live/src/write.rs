//! `POST /api/track`: the JSON body read into a record to write, the same
//! record `rehearse track` would make of its arguments. What the plan says
//! of the record is `track::record`'s to check; here only the shape.

use jiff::Timestamp;
use rehearse_core::scenario::Scenario;
use rehearse_sim::track::{self, Draft, Record, Stamp};
use serde::Deserialize;

use crate::board::zone_of;

/// The body, as sent.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TrackBody {
    /// start, done, fault, decide, note.
    pub action: String,
    pub step: Option<String>,
    /// The fault, or `FAULT@STEP`.
    pub fault: Option<String>,
    /// What was decided, for `decide`: go, conditional-go, no-go, or a
    /// recovery (resume, retry, rollback, ...).
    pub decision: Option<String>,
    /// The note, for `note`.
    pub text: Option<String>,
    /// When (RFC 3339, or a date and time in the plan's zone); now when
    /// left out.
    pub at: Option<String>,
    pub by: Option<String>,
    pub why: Option<String>,
    pub idempotency_key: Option<String>,
}

/// Reads a body into a draft stamped in the plan's zone; `now` stamps a
/// record without `at`, and `header_key` is the `Idempotency-Key` header,
/// if sent. The error is the reason, for a 400.
///
/// # Errors
/// Malformed JSON, an unknown action, a missing field, a bad time.
pub fn draft(sc: &Scenario, body: &[u8], header_key: Option<&str>, now: Timestamp) -> Result<Draft, String> {
    let b: TrackBody = serde_json::from_slice(body).map_err(|e| format!("malformed JSON body: {e}"))?;
    let need = |v: &Option<String>, what: &str| -> Result<String, String> {
        v.clone().filter(|s| !s.trim().is_empty()).ok_or_else(|| format!("`{}` needs `{what}`", b.action))
    };
    let record = match b.action.as_str() {
        "start" => Record::Started { step: need(&b.step, "step")? },
        "done" => Record::Done { step: need(&b.step, "step")? },
        "fault" => {
            let f = need(&b.fault, "fault")?;
            match (f.split_once('@'), &b.step) {
                (Some((fault, step)), None) => Record::Fault { fault: fault.into(), step: step.into() },
                (None, Some(step)) => Record::Fault { fault: f, step: step.clone() },
                _ => return Err("`fault` needs `fault` and `step`, or `fault` as FAULT@STEP".into()),
            }
        }
        "decide" => {
            need(&b.by, "by")?;
            Record::Decision { action: need(&b.decision, "decision")?, step: b.step.clone(), why: need(&b.why, "why")? }
        }
        "note" => Record::Note { text: need(&b.text, "text")? },
        other => return Err(format!("unknown action {other:?} (expected start, done, fault, decide or note)")),
    };
    let zone = track::plan_zone(sc);
    let at = match &b.at {
        None => Stamp::new(now, &zone_of(sc)),
        Some(text) => {
            let z = rehearse_core::anchor::instant(text, zone.as_ref()).map_err(|e| {
                format!("`at` {e}{}", if zone.is_none() { " (the plan has no time_zone: give an offset)" } else { "" })
            })?;
            Stamp::new(z.timestamp(), z.time_zone())
        }
    };
    let key = b.idempotency_key.clone().or_else(|| header_key.map(str::to_string));
    Ok(Draft { at, by: b.by.filter(|s| !s.trim().is_empty()), record, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sc() -> Scenario {
        Scenario::parse(
            "[scenario]\nname = \"t\"\ndowntime_begins_at = \"2027-03-05T18:00:00\"\ntime_zone = \"Europe/Paris\"\n[[step]]\nid = \"a\"\ndowntime = \"begins\"\nduration = \"1h\"\n[[step]]\nid = \"b\"\nafter = [\"a\"]\ndowntime = \"ends\"\nduration = \"1h\"\n",
            "t.toml",
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn check(body: &str, want: Result<&str, &str>) {
        let now: Timestamp = "2027-03-05T17:30:00Z".parse().unwrap();
        let got = draft(&sc(), body.as_bytes(), Some("hdr"), now);
        match (got, want) {
            (Ok(d), Ok(w)) => assert_eq!(format!("{} at {} by {:?} key {:?}", d.record, d.at, d.by, d.key), w),
            (Err(e), Err(w)) => assert!(e.contains(w), "{e:?} should say {w:?}"),
            (got, want) => panic!("{body}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn bodies_become_records() {
        check(
            r#"{"action":"start","step":"a","by":"ops"}"#,
            Ok(r#"start a at 2027-03-05T18:30:00.000+01:00 by Some("ops") key Some("hdr")"#),
        );
        check(
            r#"{"action":"done","step":"a","at":"2027-03-05 18:10","idempotency_key":"k1"}"#,
            Ok(r#"done a at 2027-03-05T18:10:00.000+01:00 by None key Some("k1")"#),
        );
        check(
            r#"{"action":"fault","fault":"dvt@a"}"#,
            Ok("fault dvt@a at 2027-03-05T18:30:00.000+01:00 by None key Some(\"hdr\")"),
        );
        check(
            r#"{"action":"decide","decision":"conditional-go","by":"cfo","why":"one DVT open"}"#,
            Ok("decide conditional-go at 2027-03-05T18:30:00.000+01:00 by Some(\"cfo\") key Some(\"hdr\")"),
        );
        check(
            r#"{"action":"note","text":"bridge call at 19:00"}"#,
            Ok("note \"bridge call at 19:00\" at 2027-03-05T18:30:00.000+01:00 by None key Some(\"hdr\")"),
        );
        check(r#"{"action":"start""#, Err("malformed JSON"));
        check(r#"{"action":"start","stpe":"a"}"#, Err("unknown field `stpe`"));
        check(r#"{"action":"start"}"#, Err("`start` needs `step`"));
        check(r#"{"action":"decide","decision":"go","why":"ok"}"#, Err("needs `by`"));
        check(r#"{"action":"launch","step":"a"}"#, Err("unknown action \"launch\""));
        check(r#"{"action":"fault","fault":"dvt"}"#, Err("FAULT@STEP"));
        check(r#"{"action":"start","step":"a","at":"tomorrow"}"#, Err("`at`"));
    }
}
