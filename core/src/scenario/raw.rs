//! Stage one: the scenario as serde reads it, every table closed to
//! unknown keys and every value that a message may point at kept with its
//! span. Nothing here is checked beyond its TOML type; `validate` does the
//! rest.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A whole scenario file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub(super) scenario: RawMeta,
    #[serde(default)]
    pub(super) database: Option<RawDatabase>,
    #[serde(default, rename = "step")]
    pub(super) steps: Vec<RawStep>,
    #[serde(default, rename = "fault")]
    pub(super) faults: Vec<RawFault>,
    #[serde(default)]
    pub(super) recovery: BTreeMap<String, RawPolicy>,
    #[serde(default)]
    pub(super) replication: Option<Spanned<RawReplication>>,
    #[serde(default)]
    pub(super) readiness: Option<Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
    #[serde(default)]
    pub(super) upgrade: Option<RawUpgrade>,
    #[serde(default, rename = "decision")]
    pub(super) decisions: Vec<Spanned<RawDecision>>,
    #[serde(default, rename = "resource")]
    pub(super) resources: Vec<RawResource>,
    #[serde(default, rename = "driver")]
    pub(super) drivers: Vec<RawDriver>,
}

/// `[[resource]]`: a person or thing steps need.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawResource {
    pub(super) id: Spanned<String>,
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) capacity: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) available: Option<Spanned<String>>,
}

/// `[[driver]]`: a factor shared by the steps that `scale_by` it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDriver {
    pub(super) id: Spanned<String>,
    #[serde(default)]
    pub(super) name: Option<String>,
    pub(super) factor: Spanned<toml::Value>,
}

/// `[[decision]]`: a go/no-go rule of the plan's own.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDecision {
    pub(super) step: Spanned<String>,
    pub(super) by: Spanned<toml::Value>,
    #[serde(rename = "else")]
    pub(super) otherwise: Spanned<String>,
}

/// `[upgrade]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUpgrade {
    #[serde(default)]
    pub(super) from: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) to: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) platform_only: Option<bool>,
    #[serde(default)]
    pub(super) customised_platform_models: Option<Spanned<bool>>,
}

/// `[replication]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReplication {
    #[serde(default)]
    pub(super) max_bcp_threads: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) publishers: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) snapshot_delay: Option<Spanned<toml::Value>>,
    pub(super) bcp_per_million_rows: Spanned<toml::Value>,
    pub(super) apply_per_million_changes: Spanned<toml::Value>,
    #[serde(default)]
    pub(super) resource_use: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) busy_slowdown: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) source_offline: Option<Spanned<String>>,
}

/// `[scenario]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMeta {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    pub(super) source: Option<String>,
    #[serde(default)]
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) window: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) window_confidence: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) start: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) downtime_begins_at: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) window_end: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) time_zone: Option<Spanned<String>>,
}

/// `[database]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDatabase {
    #[serde(default)]
    pub(super) size_gb: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) collation: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) tables: Vec<RawTable>,
}

/// One entry of `[database] tables`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTable {
    pub(super) name: Spanned<String>,
    pub(super) rows: Spanned<i64>,
    #[serde(default)]
    pub(super) changes_per_hour: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) primary_key: Option<bool>,
}

/// `[[step]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    pub(super) id: Spanned<String>,
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) owner: Option<String>,
    #[serde(default)]
    pub(super) workstream: Option<String>,
    #[serde(default)]
    pub(super) parent: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) after: Option<Spanned<RawAfter>>,
    #[serde(default)]
    pub(super) duration: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) per_gb: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) per_million_rows: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) rows_of: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) finish_lag: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) downtime: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) records_status: Option<Spanned<bool>>,
    #[serde(default)]
    pub(super) milestone: Option<bool>,
    #[serde(default)]
    pub(super) data: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) replication: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) needs: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) scale_by: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) not_before: Option<Spanned<toml::Value>>,
}

/// A step's `after`: a list of entries, each kept with its span, or any
/// other value (`after = "a"`), kept so that validation reports it with
/// its step and the list it should have been, beside every other error.
pub(super) enum RawAfter {
    List(Vec<Spanned<toml::Value>>),
    Other(toml::Value),
}

impl<'de> Deserialize<'de> for RawAfter {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawAfter;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of step ids")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawAfter, A::Error> {
                let mut entries = Vec::new();
                while let Some(e) = seq.next_element()? {
                    entries.push(e);
                }
                Ok(RawAfter::List(entries))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawAfter, E> {
                Ok(RawAfter::Other(toml::Value::String(v.to_string())))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawAfter, E> {
                Ok(RawAfter::Other(toml::Value::Integer(v)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawAfter, E> {
                Ok(RawAfter::Other(i64::try_from(v).map_or(toml::Value::Float(v as f64), toml::Value::Integer)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<RawAfter, E> {
                Ok(RawAfter::Other(toml::Value::Float(v)))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<RawAfter, E> {
                Ok(RawAfter::Other(toml::Value::Boolean(v)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawAfter, A::Error> {
                let v = toml::Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(RawAfter::Other(v))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// `[[fault]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFault {
    pub(super) id: Spanned<String>,
    #[serde(default)]
    pub(super) catalog: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) message: Option<String>,
    pub(super) steps: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) probability: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) at: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) persistent: Option<bool>,
    #[serde(default)]
    pub(super) outcome: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) recovery: Option<Spanned<String>>,
}

/// `[recovery.NAME]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    pub(super) action: Spanned<String>,
    #[serde(default)]
    pub(super) reaction: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) max_attempts: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) then: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) fix: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) duration: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) deadline: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) past_deadline: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) from: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) verify: Option<Spanned<toml::Value>>,
}

/// A problem found reading: its byte offset, the step it concerns (if
/// any) and the message.
pub(super) type Problem = (usize, Option<String>, String);

/// Most unknown keys set aside before the rest is read anyway.
const MAX_UNKNOWN: usize = 100;

/// Reads `text` into a [`RawFile`], not stopping at the first unknown key:
/// serde refuses one key at a time, so each key it refuses is noted (with
/// the key it was likely meant to be, from the keys serde expected there),
/// blanked out of a copy of the text (spaces, so that every other place
/// stays where it was) and the copy read again. Returns the file, if the
/// rest reads, and every problem found, each at its byte offset: the
/// unknown keys and, if reading still fails for another reason, that one.
pub(super) fn read(text: &str) -> (Option<RawFile>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut copy: Option<String> = None;
    loop {
        let current = copy.as_deref().unwrap_or(text);
        let e = match toml::from_str::<RawFile>(current) {
            Ok(raw) => return (Some(raw), problems),
            Err(e) => e,
        };
        let at = e.span().map(|s| s.start).unwrap_or(0);
        let mut message = e.message().trim().to_string();
        if let Some((key, expected)) = unknown_key(&message)
            && problems.len() < MAX_UNKNOWN
            && let Some(end) = entry_end(current, at)
        {
            let hint =
                crate::scenario::suggest(&key, &expected).map_or(String::new(), |k| format!("; did you mean `{k}`?"));
            let message = format!("unknown key `{key}`{hint} (expected one of: {})", expected.join(", "));
            let (step, message) = placed(current, at, &message);
            problems.push((at, step, message));
            let mut bytes = current.as_bytes().to_vec();
            // A table's header (`[databse]`) goes with the whole table, to
            // the next header; an entry with a comma after it (in an inline
            // table).
            let line_start = current[..at].rfind('\n').map_or(0, |n| n + 1);
            let header = current[line_start..at].trim_start().starts_with('[');
            let (at, end) = if header {
                let next = current[at..].find("\n[").map_or(current.len(), |n| at + n + 1);
                (line_start, next)
            } else {
                (at, end)
            };
            let mut stop = end;
            while bytes.get(stop).is_some_and(|b| *b == b' ' || *b == b'\t') {
                stop += 1;
            }
            if bytes.get(stop) == Some(&b',') {
                stop += 1;
            }
            for b in &mut bytes[at..stop] {
                if *b != b'\n' && *b != b'\r' {
                    *b = b' ';
                }
            }
            copy = Some(String::from_utf8(bytes).expect("ASCII spaces over whole characters"));
            continue;
        }
        if message.starts_with("missing field") {
            message.push_str(" (required here)");
        }
        let (step, message) = placed(current, at, &message);
        problems.push((at, step, message));
        return (None, problems);
    }
}

/// A message of serde's said where it applies and in a plan's words: the
/// step, fault or policy around byte `at` and the key whose value it is
/// ("step `x`: owner: invalid type: integer `5`, expected a string"), the
/// type names as the README gives them, and for a lone value where a list
/// is expected, the list to write. Returns the step's id apart, as every
/// diagnostic about a step carries it.
fn placed(text: &str, at: usize, message: &str) -> (Option<String>, String) {
    let mut message = message
        .replace("expected a sequence", "expected a list")
        .replace("expected i64", "expected a whole number")
        .replace("expected f64", "expected a number")
        .replace("expected a boolean", "expected true or false");
    let path = path_to(text, at);
    let mut step = None;
    let (owner, keys): (Option<String>, &[Segment]) = match path.as_slice() {
        [Segment::Key(table), Segment::Index(_, Some(id)), rest @ ..] if table == "step" => {
            step = Some(id.clone());
            (None, rest)
        }
        [Segment::Key(table), Segment::Index(i, id), rest @ ..] if table == "step" || table == "fault" => {
            let who = id
                .as_ref()
                .map_or_else(|| format!("{table} #{} (it has no id)", i + 1), |id| format!("{table} `{id}`"));
            (Some(who), rest)
        }
        [Segment::Key(table), Segment::Key(name), rest @ ..] if table == "recovery" => {
            (Some(format!("recovery.{name}")), rest)
        }
        rest => (None, rest),
    };
    // An unknown key is said once, not as the key it is in too.
    let keys = match keys.split_last() {
        Some((Segment::Key(k), rest)) if message.starts_with(&format!("unknown key `{k}`")) => rest,
        _ => keys,
    };
    let key: Vec<&str> = keys
        .iter()
        .filter_map(|s| match s {
            Segment::Key(k) => Some(k.as_str()),
            Segment::Index(..) => None,
        })
        .collect();
    let key = key.join(".");
    if message.starts_with("invalid type: string") && message.ends_with("expected a list") {
        let value = text.get(at..).unwrap_or("").lines().next().unwrap_or("").trim();
        message.push_str(&format!("; write {} = [{value}]", key.rsplit('.').next().unwrap_or(&key)));
    }
    let message = match (owner, key.is_empty()) {
        (Some(o), true) => format!("{o}: {message}"),
        (Some(o), false) => format!("{o}: {key}: {message}"),
        (None, false) => format!("{key}: {message}"),
        (None, true) => message,
    };
    (step, message)
}

/// One step of the way to a value: a key, or an element of an array of
/// tables with its `id`, if it has one.
#[derive(Clone)]
enum Segment {
    Key(String),
    Index(usize, Option<String>),
}

/// The keys and elements whose values hold byte `at`, outermost first.
/// A table written under a header (`[a]`, `[[a]]`) has only its header's
/// span, so the table holding `at` is the one whose header comes last
/// before it; inside it, values (inline tables too) hold their spans.
fn path_to(text: &str, at: usize) -> Vec<Segment> {
    use toml::de::{DeTable, DeValue};
    type Found<'a> = Option<(usize, Vec<Segment>, &'a DeTable<'a>)>;
    let Ok(doc) = DeTable::parse(text) else { return Vec::new() };
    let headed = |start: usize| text.get(start..).is_some_and(|t| t.starts_with('['));
    fn headers<'a>(
        t: &'a DeTable<'a>,
        path: &[Segment],
        at: usize,
        headed: &dyn Fn(usize) -> bool,
        best: &mut Found<'a>,
    ) {
        let found = |start: usize, path: Vec<Segment>, t: &'a DeTable<'a>, best: &mut Found<'a>| {
            if start <= at && best.as_ref().is_none_or(|b| start >= b.0) {
                *best = Some((start, path, t));
            }
        };
        for (k, v) in t.iter() {
            let mut here = path.to_vec();
            here.push(Segment::Key(k.get_ref().to_string()));
            match v.get_ref() {
                // `[recovery.r]` makes `recovery` a table without a header
                // of its own: its tables are searched all the same.
                DeValue::Table(inner) => {
                    if headed(v.span().start) {
                        found(v.span().start, here.clone(), inner, best);
                    }
                    headers(inner, &here, at, headed, best);
                }
                DeValue::Array(a) => {
                    for (i, x) in a.iter().enumerate() {
                        if let DeValue::Table(inner) = x.get_ref()
                            && headed(x.span().start)
                        {
                            let id = inner.get("id").and_then(|v| v.get_ref().as_str()).map(str::to_string);
                            let mut here = here.clone();
                            here.push(Segment::Index(i, id));
                            found(x.span().start, here.clone(), inner, best);
                            headers(inner, &here, at, headed, best);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let mut best: Found<'_> = None;
    headers(doc.get_ref(), &[], at, &headed, &mut best);
    let (mut path, mut table) = best.map_or((Vec::new(), doc.get_ref()), |(_, p, t)| (p, t));
    while let Some((k, v)) = table.iter().find(|(_, v)| v.span().contains(&at)) {
        path.push(Segment::Key(k.get_ref().to_string()));
        match v.get_ref() {
            DeValue::Table(t) => table = t,
            DeValue::Array(a) => match a.iter().find(|x| x.span().contains(&at)).map(|x| x.get_ref()) {
                Some(DeValue::Table(t)) => table = t,
                _ => break,
            },
            _ => break,
        }
    }
    path
}

/// The key and the keys expected, from serde's "unknown field `x`,
/// expected one of `a`, `b`" (or "expected `a`").
fn unknown_key(message: &str) -> Option<(String, Vec<&str>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (key, rest) = rest.split_once('`')?;
    let expected = rest.split('`').skip(1).step_by(2).collect();
    Some((key.to_string(), expected))
}

/// Where the entry whose key starts at `at` ends (its value's end), found
/// in the document's spans.
fn entry_end(text: &str, at: usize) -> Option<usize> {
    let doc = toml::de::DeTable::parse(text).ok()?;
    fn table(t: &toml::de::DeTable<'_>, at: usize) -> Option<usize> {
        t.iter().find_map(|(k, v)| if k.span().start == at { Some(v.span().end) } else { value(v.get_ref(), at) })
    }
    fn value(v: &toml::de::DeValue<'_>, at: usize) -> Option<usize> {
        match v {
            toml::de::DeValue::Table(t) => table(t, at),
            toml::de::DeValue::Array(a) => a.iter().find_map(|x| value(x.get_ref(), at)),
            _ => None,
        }
    }
    table(doc.get_ref(), at)
}
