//! The page's charts, inline SVG: the finish-date S-curve, the histogram,
//! the drivers and the convergence of the P90. Each has its axes and an
//! HTML legend under it (a legend outside the drawing never runs into a
//! line).

use std::fmt::Write as _;

use rehearse_core::event::Outcome;
use rehearse_core::scenario::Scenario;

use super::{anchor, esc, hms, legend};
use crate::estimate::Estimate;

const HOUR_MS: u64 = 3_600_000;
const W: f64 = 1000.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;

/// Ticks on a time axis, `[lo, hi]` in ms into the downtime: a round step
/// of hours, on the plan's clock when it is anchored (`Sat 06:00`), else
/// since the downtime began (`T+12h`).
pub(super) fn time_ticks(sc: &Scenario, lo: u64, hi: u64) -> Vec<(u64, String)> {
    let span = hi.saturating_sub(lo).max(1);
    let step = [1, 2, 3, 6, 12, 24, 48, 96, 168]
        .iter()
        .map(|h| h * HOUR_MS)
        .find(|s| span / s <= 7)
        .unwrap_or_else(|| span.div_ceil(7 * HOUR_MS) * HOUR_MS);
    let (first, label): (u64, Box<dyn Fn(u64) -> String>) = match &sc.meta.anchor {
        Some(a) => {
            let into_day = a.at_downtime_offset(lo as i64).map_or(0, |z| {
                let t = z.time();
                (t.hour() as u64 * 3600 + t.minute() as u64 * 60 + t.second() as u64) * 1000 + t.millisecond() as u64
            });
            let fmt = if step >= 24 * HOUR_MS { "%a %d %b" } else { "%a %H:%M" };
            let label = move |ms: u64| {
                a.at_downtime_offset(ms as i64).map_or(format!("T+{}", hms(ms)), |z| z.strftime(fmt).to_string())
            };
            (lo + (step - into_day % step) % step, Box::new(label))
        }
        None => {
            let label = |ms: u64| {
                let h = ms / HOUR_MS;
                if h >= 24 { format!("T+{}d {}h", h / 24, h % 24) } else { format!("T+{h}h") }
            };
            (lo.div_ceil(step) * step, Box::new(label))
        }
    };
    (0..).map(|k| first + k * step).take_while(|t| *t <= hi).map(|t| (t, label(t))).collect()
}

/// The x range of the distribution charts: every run, and the window.
fn range(e: &Estimate) -> (u64, u64) {
    let v = &e.downtime_sorted;
    let lo = v.first().copied().unwrap_or(0);
    let hi = v.last().copied().unwrap_or(1).max(lo + 1);
    let hi = e.window.map_or(hi, |w| hi.max(w.as_ms()));
    let pad = (hi - lo) / 40;
    (lo.saturating_sub(pad), hi + pad)
}

fn svg_open(h: f64, label: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{h}\" viewBox=\"0 0 {W} {h}\" role=\"img\" aria-label=\"{}\">\n",
        esc(label)
    )
}

/// The x axis of a time chart: the line, ticks and labels.
fn time_axis(s: &mut String, sc: &Scenario, (lo, hi): (u64, u64), x: &dyn Fn(u64) -> f64, y0: f64) {
    let _ = writeln!(s, "<line x1=\"{LEFT}\" y1=\"{y0:.1}\" x2=\"{:.1}\" y2=\"{y0:.1}\" stroke=\"#444\"/>", W - RIGHT);
    let ticks = time_ticks(sc, lo, hi);
    let last = ticks.len().saturating_sub(1);
    for (k, (t, label)) in ticks.iter().enumerate() {
        let xx = x(*t);
        let a = if xx > W - 60.0 { anchor(last, last) } else { anchor(k.min(1), last.max(2)) };
        let _ = writeln!(
            s,
            "<line x1=\"{xx:.1}\" y1=\"{y0:.1}\" x2=\"{xx:.1}\" y2=\"{:.1}\" stroke=\"#444\"/><text x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"{a}\">{}</text>",
            y0 + 4.0,
            y0 + 16.0,
            esc(label)
        );
    }
}

/// The window's end, a dashed red line with its label where nothing else
/// is drawn: at the foot under the S-curve (which is high by then), at the
/// top over the histogram (whose bars are low by then).
fn window_line(s: &mut String, sc: &Scenario, e: &Estimate, x: &dyn Fn(u64) -> f64, top: f64, y0: f64, label_y: f64) {
    if let Some(w) = e.window {
        let xw = x(w.as_ms());
        let label = match &sc.meta.anchor {
            Some(a) if a.window_end().is_some() => format!("window ends {}", time_ticks_label(sc, w.as_ms())),
            _ => format!("window {}", hms(w.as_ms())),
        };
        let _ = writeln!(
            s,
            "<line x1=\"{xw:.1}\" y1=\"{top:.1}\" x2=\"{xw:.1}\" y2=\"{y0:.1}\" stroke=\"#c0392b\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#c0392b\">{}</text>",
            xw - 4.0,
            label_y,
            esc(&label)
        );
    }
}

/// The finish-date S-curve: the share of all runs live by each time, with
/// P50, P80 and P90 marked.
pub(super) fn scurve(sc: &Scenario, e: &Estimate) -> String {
    let (hgt, bottom, top) = (300.0, 30.0, 12.0);
    let (lo, hi) = range(e);
    let x = |ms: u64| LEFT + (ms.saturating_sub(lo)) as f64 / (hi - lo) as f64 * (W - LEFT - RIGHT);
    let y = |frac: f64| hgt - bottom - frac * (hgt - bottom - top);
    let mut s = svg_open(hgt, "finish-date S-curve");
    for k in 0..=4 {
        let f = k as f64 / 4.0;
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#e4e4e4\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{:.0} %</text>",
            W - RIGHT,
            LEFT - 6.0,
            y(f) + 4.0,
            100.0 * f,
            yy = y(f)
        );
    }
    let _ = writeln!(s, "<line x1=\"{LEFT}\" y1=\"{top}\" x2=\"{LEFT}\" y2=\"{:.1}\" stroke=\"#444\"/>", y(0.0));
    window_line(&mut s, sc, e, &x, top, y(0.0), y(0.0) - 6.0);
    let c = &e.committed_sorted;
    if !c.is_empty() {
        let mut pts = format!("{:.1},{:.1} ", x(lo), y(0.0));
        let step = (c.len() / 400).max(1);
        for (i, d) in c.iter().enumerate().step_by(step).chain(c.iter().enumerate().next_back()) {
            let _ = write!(pts, "{:.1},{:.1} ", x(*d), y((i + 1) as f64 / e.runs as f64));
        }
        let _ = write!(pts, "{:.1},{:.1}", x(hi), y(c.len() as f64 / e.runs as f64));
        let _ = writeln!(s, "<polyline points=\"{pts}\" fill=\"none\" stroke=\"#1f3b73\" stroke-width=\"2\"/>");
    }
    for (label, q) in [("P50", 0.5), ("P80", 0.8), ("P90", 0.9)] {
        let Some(ms) = e.go_live(q) else { continue };
        let (xx, yy) = (x(ms), y(q));
        let when = time_ticks_label(sc, ms);
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{xx:.1}\" y2=\"{yy:.1}\" stroke=\"#888\" stroke-dasharray=\"3 3\"/><line x1=\"{xx:.1}\" y1=\"{yy:.1}\" x2=\"{xx:.1}\" y2=\"{:.1}\" stroke=\"#888\" stroke-dasharray=\"3 3\"/><circle cx=\"{xx:.1}\" cy=\"{yy:.1}\" r=\"4\" fill=\"#1f3b73\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-weight=\"bold\">{label} {}</text>",
            y(0.0),
            xx - 7.0,
            yy - 5.0,
            esc(&when)
        );
    }
    time_axis(&mut s, sc, (lo, hi), &x, y(0.0));
    s.push_str("</svg>\n");
    let mut h = format!(
        "<h2>When does it go live?</h2>\n<p class=\"note\">The share of all runs live by each time (a run that rolls back never goes live, so the curve tops out at {:.1}&nbsp;%).</p>\n{s}",
        100.0 * e.share(Outcome::Committed)
    );
    h.push_str(&legend(&[
        ("#1f3b73", "share of runs live"),
        ("-#888", "P50 / P80 / P90"),
        ("-#c0392b", "end of the window"),
    ]));
    h
}

/// A time as a chart labels it: `Sun 08:20`, or `T+1d 14:20:00`.
fn time_ticks_label(sc: &Scenario, ms: u64) -> String {
    match sc.meta.anchor.as_ref().and_then(|a| a.at_downtime_offset(ms as i64)) {
        Some(z) => z.strftime("%a %H:%M").to_string(),
        None => format!("T+{}", hms(ms)),
    }
}

/// The histogram of all runs, committed and not, with a y axis of runs.
pub(super) fn histogram(sc: &Scenario, e: &Estimate) -> String {
    let (hgt, bottom, top) = (240.0, 30.0, 12.0);
    let (lo, hi) = range(e);
    let bins = 40u64;
    let width = (hi - lo).div_ceil(bins).max(1);
    let bin = |d: u64| (((d - lo) / width) as usize).min(bins as usize - 1);
    let (mut all, mut committed) = (vec![0u64; bins as usize], vec![0u64; bins as usize]);
    for d in &e.downtime_sorted {
        all[bin(*d)] += 1;
    }
    for d in &e.committed_sorted {
        committed[bin(*d)] += 1;
    }
    let most = *all.iter().max().unwrap_or(&1);
    // A round top for the y axis.
    let unit = [1u64, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000]
        .into_iter()
        .find(|u| most.div_ceil(*u) <= 5)
        .unwrap_or(most.div_ceil(5).max(1));
    let ymax = most.div_ceil(unit).max(1) * unit;
    let x = |ms: u64| LEFT + (ms.saturating_sub(lo)) as f64 / (hi - lo) as f64 * (W - LEFT - RIGHT);
    let y = |n: u64| hgt - bottom - n as f64 / ymax as f64 * (hgt - bottom - top);
    let mut s = svg_open(hgt, "histogram of the downtime");
    for n in (0..=ymax).step_by(unit as usize) {
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#e4e4e4\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{n}</text>",
            W - RIGHT,
            LEFT - 6.0,
            y(n) + 4.0,
            yy = y(n)
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"14\" y=\"{:.1}\" transform=\"rotate(-90 14 {:.1})\" text-anchor=\"middle\">runs</text>",
        (hgt - bottom) / 2.0,
        (hgt - bottom) / 2.0
    );
    for k in 0..bins as usize {
        let (x0, x1) = (x(lo + k as u64 * width), x(lo + (k as u64 + 1) * width));
        let bw = (x1 - x0 - 1.0).max(0.5);
        let (yc, ya) = (y(committed[k]), y(all[k]));
        let _ = writeln!(
            s,
            "<rect x=\"{x0:.1}\" y=\"{yc:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"#7aa6d8\"/><rect x=\"{x0:.1}\" y=\"{ya:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"#e59866\"/>",
            y(0) - yc,
            yc - ya
        );
    }
    let _ = writeln!(s, "<line x1=\"{LEFT}\" y1=\"{top}\" x2=\"{LEFT}\" y2=\"{:.1}\" stroke=\"#444\"/>", y(0));
    window_line(&mut s, sc, e, &x, top, y(0), top + 10.0);
    time_axis(&mut s, sc, (lo, hi), &x, y(0));
    s.push_str("</svg>\n");
    let mut h = format!(
        "<h2>Distribution of the {}</h2>\n<p class=\"note\">All {} runs in {bins} bins of {}: for a rolled-back, cancelled or aborted run, the outage until the old system was back.</p>\n{s}",
        e.measure.label(),
        e.runs,
        hms(width)
    );
    h.push_str(&legend(&[
        ("#7aa6d8", "committed"),
        ("#e59866", "rolled back, cancelled or aborted"),
        ("-#c0392b", "end of the window"),
    ]));
    h
}

/// What drives the go-live: hours the mean moves between the runs where a
/// step was long and those where it was short, by step name and owner.
pub(super) fn drivers(sc: &Scenario, e: &Estimate) -> String {
    let shift = |i: usize| e.drivers[i].map_or(0, |d| d.mean_shift_ms.round() as i64);
    let mut steps: Vec<usize> =
        (0..sc.steps.len()).filter(|i| !sc.steps[*i].is_group() && e.drivers[*i].is_some()).collect();
    steps.sort_by(|a, b| shift(*b).abs().cmp(&shift(*a).abs()).then(a.cmp(b)));
    steps.truncate(12);
    let largest = steps.first().map_or(1, |i| shift(*i).unsigned_abs().max(1)) as f64;
    let (row, label, right) = (24.0, 420.0, 170.0);
    let hgt = row * steps.len() as f64 + 20.0;
    let half = (W - label - right) / 2.0;
    let mid = label + half;
    let mut s = svg_open(hgt, "what drives the go-live");
    for (k, i) in steps.iter().enumerate() {
        let st = &sc.steps[*i];
        let ms = shift(*i);
        let frac = ms as f64 / largest;
        let yy = 6.0 + k as f64 * row;
        let (x0, len) = if frac >= 0.0 { (mid, frac * half) } else { (mid + frac * half, -frac * half) };
        let keep = if st.owner.is_some() { 44 } else { 60 };
        let name: String = if st.name.chars().count() > keep {
            format!("{}…", st.name.chars().take(keep - 1).collect::<String>())
        } else {
            st.name.clone()
        };
        let owner = st.owner.as_deref().map_or(String::new(), |o| format!(" · {}", esc(o)));
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}{owner}</text><rect x=\"{x0:.1}\" y=\"{yy:.1}\" width=\"{len:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}</title></rect><text x=\"{:.1}\" y=\"{:.1}\">{}{:.1} h · critical {:.0} %</text>",
            label - 8.0,
            yy + 14.0,
            esc(&name),
            row - 6.0,
            if ms >= 0 { "#d35400" } else { "#27ae60" },
            esc(&st.id),
            mid + half + 8.0,
            yy + 14.0,
            if ms >= 0 { "+" } else { "-" },
            ms.unsigned_abs() as f64 / HOUR_MS as f64,
            100.0 * e.criticality[*i]
        );
    }
    let _ = writeln!(s, "<line x1=\"{mid:.1}\" y1=\"2\" x2=\"{mid:.1}\" y2=\"{:.1}\" stroke=\"#444\"/>", hgt - 6.0);
    s.push_str("</svg>\n");
    let mut h = format!(
        "<h2>What drives the {m}</h2>\n<p class=\"note\">Over committed runs: how many hours the mean {m} moves between the runs where a step was long (the upper half of its durations) and those where it was short, and the share of runs in which the step is on the critical path. Steps by name, then owner where the plan names one.</p>\n{s}",
        m = e.measure.label()
    );
    h.push_str(&legend(&[
        ("#d35400", "a longer step makes the go-live later (hours)"),
        ("#27ae60", "a longer step makes it earlier"),
    ]));
    h
}

/// The committed runs' P90 over the first `n` runs, at `n` spread
/// geometrically from a fiftieth of the runs (at least 100: the P90 of a
/// few dozen runs says nothing, and would squash the scale) to all of them.
pub(crate) fn running_p90(e: &Estimate) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut n = (e.runs / 50).max(100).min(e.runs);
    let mut prefix: Vec<u64> = Vec::new();
    loop {
        prefix.clear();
        prefix.extend(
            (0..n as usize).filter(|k| e.outcome_by_run[*k] == Outcome::Committed).map(|k| e.downtime_by_run[k]),
        );
        if !prefix.is_empty() {
            prefix.sort_unstable();
            out.push((n, crate::estimate::stats::quantile(&prefix, 0.9)));
        }
        if n >= e.runs {
            break;
        }
        n = (n + n / 12 + 1).min(e.runs);
    }
    out
}

/// The P90 as runs accumulate, against the final one, its 95 % interval
/// and the run count after which it stayed within 1 %.
pub(super) fn convergence(e: &Estimate) -> String {
    let series = running_p90(e);
    if series.len() < 2 {
        return String::new();
    }
    let (hgt, bottom, top) = (220.0, 30.0, 12.0);
    let (ci_lo, ci_hi) = e.p90_ci.unwrap_or((series[series.len() - 1].1, series[series.len() - 1].1));
    let lo = series.iter().map(|p| p.1).min().unwrap_or(0).min(ci_lo);
    let hi = series.iter().map(|p| p.1).max().unwrap_or(1).max(ci_hi).max(lo + 1);
    let (lo, hi) = (lo.saturating_sub((hi - lo) / 10), hi + (hi - lo) / 10);
    let n_max = e.runs.max(2) as f64;
    let x = |n: u64| LEFT + 20.0 + n as f64 / n_max * (W - LEFT - 20.0 - RIGHT);
    let y = |ms: u64| hgt - bottom - (ms.saturating_sub(lo)) as f64 / (hi - lo) as f64 * (hgt - bottom - top);
    let mut s = svg_open(hgt, "convergence of the P90");
    let _ = writeln!(
        s,
        "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#dde8f5\"/>",
        x(0),
        y(ci_hi),
        x(e.runs) - x(0),
        (y(ci_lo) - y(ci_hi)).max(1.0)
    );
    let last = series[series.len() - 1].1;
    let _ = writeln!(
        s,
        "<line x1=\"{:.1}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#1f3b73\" stroke-dasharray=\"6 4\"/>",
        x(0),
        x(e.runs),
        yy = y(last)
    );
    let pts: String = series.iter().map(|(n, v)| format!("{:.1},{:.1} ", x(*n), y(*v))).collect();
    let _ =
        writeln!(s, "<polyline points=\"{}\" fill=\"none\" stroke=\"#d35400\" stroke-width=\"2\"/>", pts.trim_end());
    if let Some(n) = e.converged_after {
        let xx = x(n);
        // Right of the line, or left of it when it settled late (the
        // label would run off the chart).
        let (tx, anchor) = if n as f64 > n_max / 2.0 { (xx - 4.0, "end") } else { (xx + 4.0, "start") };
        let _ = writeln!(
            s,
            "<line x1=\"{xx:.1}\" y1=\"{top}\" x2=\"{xx:.1}\" y2=\"{:.1}\" stroke=\"#2e7d32\" stroke-dasharray=\"3 3\"/><text x=\"{tx:.1}\" y=\"{:.1}\" fill=\"#2e7d32\" text-anchor=\"{anchor}\">settled after {n} runs</text>",
            y(lo),
            top + 10.0
        );
    }
    for k in 0..=3 {
        let ms = lo + (hi - lo) * k / 3;
        let _ = writeln!(
            s,
            "<line x1=\"{:.1}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#444\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            x(0) - 4.0,
            x(0),
            x(0) - 6.0,
            y(ms) + 4.0,
            hms(ms),
            yy = y(ms)
        );
    }
    let _ =
        writeln!(s, "<line x1=\"{:.1}\" y1=\"{top}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#444\"/>", x(0), x(0), y(lo));
    let _ = writeln!(
        s,
        "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#444\"/>",
        x(0),
        y(lo),
        x(e.runs),
        y(lo)
    );
    for k in 0..=4u64 {
        let n = e.runs * k / 4;
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{}\">{n} runs</text>",
            x(n),
            y(lo) + 16.0,
            anchor(k as usize, 4)
        );
    }
    s.push_str("</svg>\n");
    let settled = match e.converged_after {
        Some(n) => format!("It stayed within 1&nbsp;% of its final value after {n} runs."),
        None => "It has not stayed within 1&nbsp;% of its final value: run more.".to_string(),
    };
    let mut h = format!(
        "<h2>Convergence</h2>\n<p class=\"note\">The committed runs' P90 {} over the first runs, as they accumulate. {settled}</p>\n{s}",
        e.measure.label()
    );
    h.push_str(&legend(&[
        ("#d35400", "P90 over the first runs"),
        ("-#1f3b73", "final P90"),
        ("#dde8f5", "its 95 % confidence interval"),
        ("-#2e7d32", "settled within 1 %"),
    ]));
    h
}
