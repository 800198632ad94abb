//! `rehearse status`: the status pack for the sponsors' four-hourly
//! update. The verdict, the dated forecast, what changed since the last
//! pack, and the next milestones with their owners; as text, Markdown or
//! one self-contained HTML page.
//!
//! "Since the last pack": each pack made is remembered in the log's file,
//! in a table of its own (`status_packs`: when, the last record seq it
//! covered, its verdict and figures), outside the weekend log's records
//! and chain, as the access tokens are. The next pack lists the records
//! after that seq and how the verdict and the figures moved.

use std::fmt::Write as _;
use std::path::Path;

use jiff::Timestamp;
use rehearse_sim::track::Log;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde_json::Value;

use crate::LiveError;
use crate::board::{BoardOptions, board, hms, long, record_text, zone_of};

const TABLE: &str = rehearse_sim::track::STATUS_PACKS_TABLE;

/// The pack before this one, as remembered.
#[derive(Clone, Debug, PartialEq)]
pub struct Previous {
    pub at: String,
    pub last_seq: u64,
    pub verdict: String,
    pub p_success: Option<f64>,
    pub go_live_p50: Option<String>,
    pub go_live_p90: Option<String>,
}

/// A milestone ahead.
#[derive(Clone, Debug, PartialEq)]
pub struct Milestone {
    pub step: String,
    pub name: String,
    pub owner: Option<String>,
    pub state: String,
    /// When it ends, P10 / P50 / P90.
    pub end: Option<[String; 3]>,
}

/// A status pack.
#[derive(Clone, Debug, PartialEq)]
pub struct Pack {
    pub file: String,
    pub scenario: String,
    pub at: String,
    pub verdict: String,
    pub verdict_key: String,
    pub reasons: Vec<String>,
    pub p_success: f64,
    pub p_rollback: f64,
    pub go_live_p50: Option<String>,
    pub go_live_p90: Option<String>,
    pub window_end: Option<String>,
    pub point_of_no_return: Option<String>,
    pub done: (usize, usize),
    pub running: Vec<String>,
    pub alarms: Vec<String>,
    pub previous: Option<Previous>,
    /// The records since the previous pack, in words, with when and who.
    pub changes: Vec<String>,
    pub last_seq: u64,
    pub milestones: Vec<Milestone>,
    /// A drill's debrief, in lines: how it ended against the plan's
    /// estimate, each decision at a fault against the plan's.
    pub debrief: Option<Vec<String>>,
}

fn sql(path: &Path) -> impl Fn(rusqlite::Error) -> LiveError + '_ {
    move |cause| LiveError::Sqlite { path: path.display().to_string(), cause }
}

/// The last pack made of the log at `path`, if any.
///
/// # Errors
/// SQLite errors.
pub fn previous(path: &Path) -> Result<Option<Previous>, LiveError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(sql(path))?;
    let has: bool = conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'status_packs'", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(sql(path))?
        > 0;
    if !has {
        return Ok(None);
    }
    conn.query_row(
        "SELECT at, last_seq, verdict, p_success, go_live_p50, go_live_p90 FROM status_packs ORDER BY n DESC LIMIT 1",
        [],
        |r| {
            Ok(Previous {
                at: r.get(0)?,
                last_seq: r.get::<_, i64>(1)?.max(0) as u64,
                verdict: r.get(2)?,
                p_success: r.get(3)?,
                go_live_p50: r.get(4)?,
                go_live_p90: r.get(5)?,
            })
        },
    )
    .optional()
    .map_err(sql(path))
}

/// Remembers `pack` as the last one made of the log at `path`.
///
/// # Errors
/// SQLite errors.
pub fn remember(path: &Path, pack: &Pack) -> Result<(), LiveError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(sql(path))?;
    conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(sql(path))?;
    conn.execute_batch(TABLE).map_err(sql(path))?;
    conn.execute(
        "INSERT INTO status_packs (at, last_seq, verdict, p_success, go_live_p50, go_live_p90) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![pack.at, pack.last_seq as i64, pack.verdict_key, pack.p_success, pack.go_live_p50, pack.go_live_p90],
    )
    .map_err(sql(path))?;
    Ok(())
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// Makes the pack of the log at `path` as of `now`.
///
/// # Errors
/// A file that is no weekend log, a damaged one, a forecast that cannot
/// be made, SQLite errors.
pub fn pack(path: &Path, now: Timestamp, opts: &BoardOptions) -> Result<Pack, LiveError> {
    if path.is_file() && !rehearse_sim::track::is_log(path) {
        return Err(LiveError::NotALog { path: path.display().to_string() });
    }
    let log = Log::open(path)?;
    let sc = log.scenario()?;
    let zone = zone_of(&sc);
    let name = path.display().to_string();
    let drill = rehearse_sim::drill::DrillSpec::of(&log)
        .transpose()
        .map_err(|cause| LiveError::Drill { path: name.clone(), cause })?;
    // A drill keeps its own time: its pack is made as of its last record.
    let now = match &drill {
        Some(_) => log.entries().last().map_or(now, |e| e.at.timestamp()),
        None => now,
    };
    let debrief = match &drill {
        Some(spec) => {
            Some(debrief(&log, &sc, spec, opts).map_err(|cause| LiveError::Drill { path: name.clone(), cause })?)
        }
        None => None,
    };
    let b = board(&log, &name, now, opts)?;
    let j = &b.json;
    let bd = &j["board"];
    let previous = previous(path)?;
    let after = previous.as_ref().map(|p| p.last_seq);
    let changes = log
        .entries()
        .iter()
        .filter(|e| after.is_none_or(|a| e.seq > a) && e.seq > 0)
        .map(|e| {
            let by = e.by.as_deref().map(|b| format!(" ({b})")).unwrap_or_default();
            format!("{}  {}{by}", long(e.at.timestamp(), &zone), record_text(&e.record))
        })
        .collect();
    let steps = bd["steps"].as_array().cloned().unwrap_or_default();
    let leaves: Vec<&Value> = steps.iter().filter(|s| s["group"] == false).collect();
    let done = leaves.iter().filter(|s| s["state"] == "done").count();
    let running = leaves.iter().filter(|s| s["state"] == "running").filter_map(|s| text(&s["id"])).collect();
    let marked = steps.iter().any(|s| s["milestone"] == true);
    let milestones = steps
        .iter()
        .filter(|s| s["state"] != "done" && if marked { s["milestone"] == true } else { s["depth"] == 0 })
        .take(5)
        .map(|s| Milestone {
            step: text(&s["id"]).unwrap_or_default(),
            name: text(&s["name"]).unwrap_or_default(),
            owner: text(&s["owner"]),
            state: text(&s["state"]).unwrap_or_default(),
            end: s["end_q"].as_array().and_then(|q| {
                let v: Vec<String> = q.iter().filter_map(text).collect();
                <[String; 3]>::try_from(v).ok()
            }),
        })
        .collect();
    Ok(Pack {
        file: name,
        scenario: sc.meta.name.clone(),
        at: long(now, &zone),
        verdict: b.verdict.level.label().to_string(),
        verdict_key: b.verdict.level.key().to_string(),
        reasons: b.verdict.reasons.clone(),
        p_success: j["p_success"].as_f64().unwrap_or(0.0),
        p_rollback: j["p_rollback"].as_f64().unwrap_or(0.0),
        go_live_p50: text(&bd["dated"]["go_live_p50"]),
        go_live_p90: text(&bd["dated"]["go_live_p90"]),
        window_end: text(&bd["dated"]["window_end"]),
        point_of_no_return: text(&bd["dated"]["point_of_no_return"]),
        done: (done, leaves.len()),
        running,
        alarms: bd["alarms"].as_array().map(|a| a.iter().filter_map(text).collect()).unwrap_or_default(),
        previous,
        changes,
        last_seq: log.entries().len().saturating_sub(1) as u64,
        milestones,
        debrief,
    })
}

/// A drill's debrief in lines.
fn debrief(
    log: &Log,
    sc: &rehearse_core::scenario::Scenario,
    spec: &rehearse_sim::drill::DrillSpec,
    opts: &BoardOptions,
) -> Result<Vec<String>, rehearse_sim::drill::DrillError> {
    use rehearse_sim::estimate::estimate;
    let text = log.scenario_text();
    let zone = zone_of(sc);
    let d = rehearse_sim::drill::debrief(sc, text, spec, log.entries())?;
    let faults = spec.faults.as_ref().map_or_else(|| "the plan's faults".to_string(), |f| f.join(", "));
    let mut v = vec![format!("drill of seed {}, x{}, {faults}", spec.seed, spec.speed)];
    match d.over {
        Some((outcome, downtime)) => {
            let plan = rehearse_sim::engine::Plan::new(sc, rehearse_sim::digest(text));
            let e = estimate(&plan, &opts.estimate(), sc.meta.window, &std::sync::atomic::AtomicU64::new(0))
                .map_err(|e| rehearse_sim::drill::DrillError::Settings(e.to_string()))?;
            let q = |x: Option<u64>| x.map_or_else(|| "-".to_string(), hms);
            v.push(format!(
                "it ended {outcome} with {} of downtime; the plan's estimate ({} runs, the plan's faults): go-live P50 {}, P90 {}, P(success) {}; {} of its runs go live within the drill's downtime",
                hms(downtime),
                e.runs,
                q(e.go_live(0.5)),
                q(e.go_live(0.9)),
                pct(e.p_success),
                pct(e.live_within(downtime)),
            ));
        }
        None => v.push("it is not over: the debrief covers the decisions so far".into()),
    }
    if d.reviews.is_empty() {
        v.push("no decision was made at a fault".into());
    }
    for r in &d.reviews {
        let at = log.entries().get(r.seq as usize).map(|e| long(e.at.timestamp(), &zone)).unwrap_or_default();
        let plan = r.proposed.map_or("-", rehearse_core::fault::Action::name);
        let ends = |(o, ms): (rehearse_core::event::Outcome, u64)| format!("{o}, downtime {}", hms(ms));
        let delta = r.chosen_ends.1 as i64 - r.plan_ends.1 as i64;
        let head = format!(
            "seq {} ({at}): {} on {}; {} chose {}",
            r.seq,
            sc.faults[r.fault.index()].id,
            sc.step(r.step).id,
            r.by.as_deref().unwrap_or("someone"),
            r.chosen
        );
        if r.chosen == plan {
            v.push(format!("{head}, as the plan says: {}", ends(r.chosen_ends)));
            continue;
        }
        let verdict = if r.chosen_ends.0 != r.plan_ends.0 {
            format!("the outcome differs ({} against {})", r.chosen_ends.0, r.plan_ends.0)
        } else if delta > 0 {
            format!("it cost {}", hms(delta.unsigned_abs()))
        } else {
            format!("it saved {}", hms(delta.unsigned_abs()))
        };
        v.push(format!(
            "{head}, the plan says {plan}. On the same random numbers, later faults as the plan says: {} -> {}; {plan} -> {}: {verdict}",
            r.chosen,
            ends(r.chosen_ends),
            ends(r.plan_ends),
        ));
    }
    Ok(v)
}

/// `text` in lines of at most `width` columns (a word longer stays whole),
/// the first indented two spaces, the rest four.
fn wrap(out: &mut String, text: &str, width: usize) {
    let mut line = String::from("  ");
    for word in text.split_whitespace() {
        if !line.trim().is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = String::from("    ");
        }
        if !line.trim().is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

fn pct(p: f64) -> String {
    format!("{:.1}%", 100.0 * p)
}

fn or_dash(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("-")
}

impl Pack {
    /// The movement since the previous pack, in words.
    fn moved(&self) -> Vec<String> {
        let Some(p) = &self.previous else {
            return vec!["first status pack of this weekend: every record since the log was opened".into()];
        };
        let mut v = vec![format!("since the pack of {} (records after seq {})", p.at, p.last_seq)];
        if p.verdict != self.verdict_key {
            v.push(format!("verdict {} -> {}", p.verdict, self.verdict_key));
        }
        if let Some(before) = p.p_success
            && (before - self.p_success).abs() >= 0.0005
        {
            v.push(format!("P(success) {} -> {}", pct(before), pct(self.p_success)));
        }
        if p.go_live_p50 != self.go_live_p50 {
            v.push(format!("go-live P50 {} -> {}", or_dash(&p.go_live_p50), or_dash(&self.go_live_p50)));
        }
        if p.go_live_p90 != self.go_live_p90 {
            v.push(format!("go-live P90 {} -> {}", or_dash(&p.go_live_p90), or_dash(&self.go_live_p90)));
        }
        v
    }

    fn milestone_line(m: &Milestone) -> (String, String, String) {
        let when = m.end.as_ref().map_or_else(|| "-".into(), |e| format!("{} (P10 {}, P90 {})", e[1], e[0], e[2]));
        (format!("{} ({})", m.name, m.step), m.owner.clone().unwrap_or_else(|| "-".into()), when)
    }

    /// Plain text.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "status       {}  ({})", self.scenario, self.file);
        let _ = writeln!(s, "as of        {}", self.at);
        let _ = writeln!(s, "verdict      {}: {}", self.verdict, self.reasons.join("; "));
        let _ = writeln!(s, "go-live      P50 {}, P90 {}", or_dash(&self.go_live_p50), or_dash(&self.go_live_p90));
        let _ = writeln!(s, "success      {} (rollback {})", pct(self.p_success), pct(self.p_rollback));
        let _ = writeln!(s, "window ends  {}", or_dash(&self.window_end));
        let _ = writeln!(s, "no return    {}", or_dash(&self.point_of_no_return));
        let _ =
            writeln!(s, "progress     {} of {} steps done; running: {}", self.done.0, self.done.1, self.running_text());
        for a in &self.alarms {
            let _ = writeln!(s, "ALARM        {a}");
        }
        let _ = writeln!(s, "\nchanged");
        for m in self.moved() {
            let _ = writeln!(s, "  {m}");
        }
        for c in &self.changes {
            let _ = writeln!(s, "  {c}");
        }
        let _ = writeln!(s, "\nnext milestones (ends: P50, P10-P90)");
        for m in &self.milestones {
            let (what, who, when) = Self::milestone_line(m);
            let _ = writeln!(s, "  {what}  owner {who}  ends {when}");
        }
        if let Some(d) = &self.debrief {
            let _ = writeln!(s, "\ndebrief");
            for line in d {
                wrap(&mut s, line, 78);
            }
        }
        s
    }

    fn running_text(&self) -> String {
        if self.running.is_empty() { "nothing".into() } else { self.running.join(", ") }
    }

    /// Markdown, for a chat or an e-mail.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# Status: {}: **{}**\n", self.scenario, self.verdict);
        let _ = writeln!(s, "As of {}. {}\n", self.at, self.reasons.join("; "));
        let _ = writeln!(s, "| | |\n|---|---|");
        let _ = writeln!(s, "| Go-live P50 | {} |", or_dash(&self.go_live_p50));
        let _ = writeln!(s, "| Go-live P90 | {} |", or_dash(&self.go_live_p90));
        let _ = writeln!(s, "| P(success) | {} |", pct(self.p_success));
        let _ = writeln!(s, "| P(rollback) | {} |", pct(self.p_rollback));
        let _ = writeln!(s, "| Window ends | {} |", or_dash(&self.window_end));
        let _ = writeln!(s, "| Point of no return | {} |", or_dash(&self.point_of_no_return));
        let _ = writeln!(
            s,
            "| Progress | {} of {} steps done; running: {} |\n",
            self.done.0,
            self.done.1,
            self.running_text()
        );
        for a in &self.alarms {
            let _ = writeln!(s, "> **Alarm:** {a}\n");
        }
        let _ = writeln!(s, "## What changed\n");
        for m in self.moved() {
            let _ = writeln!(s, "- {m}");
        }
        for c in &self.changes {
            let _ = writeln!(s, "- {c}");
        }
        let _ = writeln!(s, "\n## Next milestones\n\n| Milestone | Owner | Ends (P50, P10-P90) |\n|---|---|---|");
        for m in &self.milestones {
            let (what, who, when) = Self::milestone_line(m);
            let _ = writeln!(s, "| {what} | {who} | {when} |");
        }
        if let Some(d) = &self.debrief {
            let _ = writeln!(s, "\n## Drill debrief\n");
            for line in d {
                let _ = writeln!(s, "- {line}");
            }
        }
        s
    }

    /// One self-contained page (no script, no external assets).
    pub fn html(&self) -> String {
        let e = |t: &str| t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let colour = match self.verdict_key.as_str() {
            "on-track" => "#1a7f37",
            "at-risk" => "#b35900",
            _ => "#c62828",
        };
        let mut s = String::new();
        let _ = write!(
            s,
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Status: {}</title><style>\
             body{{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:1.5rem auto;padding:0 1rem;color:#1b1f24}}\
             .v{{background:{colour};color:#fff;padding:.8rem 1rem;border-radius:6px;font-size:1.3rem}}\
             table{{border-collapse:collapse;width:100%;margin:.6rem 0}}td,th{{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left}}\
             .alarm{{color:#c62828;font-weight:600}}</style></head><body>",
            e(&self.scenario)
        );
        let _ = write!(
            s,
            "<div class=\"v\"><b>{}</b> &mdash; {}</div><p>{} &middot; as of {}</p><table>",
            self.verdict,
            e(&self.reasons.join("; ")),
            e(&self.scenario),
            e(&self.at)
        );
        for (k, v) in [
            ("Go-live P50", or_dash(&self.go_live_p50).to_string()),
            ("Go-live P90", or_dash(&self.go_live_p90).to_string()),
            ("P(success)", pct(self.p_success)),
            ("P(rollback)", pct(self.p_rollback)),
            ("Window ends", or_dash(&self.window_end).to_string()),
            ("Point of no return", or_dash(&self.point_of_no_return).to_string()),
            ("Progress", format!("{} of {} steps done; running: {}", self.done.0, self.done.1, self.running_text())),
        ] {
            let _ = write!(s, "<tr><th>{k}</th><td>{}</td></tr>", e(&v));
        }
        s.push_str("</table>");
        for a in &self.alarms {
            let _ = write!(s, "<p class=\"alarm\">Alarm: {}</p>", e(a));
        }
        s.push_str("<h2>What changed</h2><ul>");
        for m in self.moved().iter().chain(&self.changes) {
            let _ = write!(s, "<li>{}</li>", e(m));
        }
        s.push_str("</ul><h2>Next milestones</h2><table><tr><th>Milestone</th><th>Owner</th><th>Ends (P50, P10&ndash;P90)</th></tr>");
        for m in &self.milestones {
            let (what, who, when) = Self::milestone_line(m);
            let _ = write!(s, "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", e(&what), e(&who), e(&when));
        }
        s.push_str("</table>");
        if let Some(d) = &self.debrief {
            s.push_str("<h2>Drill debrief</h2><ul>");
            for line in d {
                let _ = write!(s, "<li>{}</li>", e(line));
            }
            s.push_str("</ul>");
        }
        s.push_str("</body></html>\n");
        s
    }
}
