//! The drill, paced: `rehearse-sim`'s [`Drill`] says what happens and in
//! which order; this room says when, on the wall clock. The drill's clock
//! runs `speed` times faster than the wall clock, jumps over stretches in
//! which nothing runs, stops at each fault until the bridge decides, and
//! never passes the drill's next record (so a decision is never stamped
//! after something the drill has yet to write).
//!
//! The driver writes the drill's records as `rehearse track` would (the
//! same checks, one transaction each, under the server's write lock), and
//! folds every record of the log, its own and the bridge's, in log order:
//! so a server restarted on a drill log takes up where the drill stood.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

// The pacing reads the wall clock (this is the edge), through tokio's clock.
use tokio::time::Instant;

use jiff::{SignedDuration, Timestamp};
use rehearse_sim::drill::{self, Drill, DrillSpec, Stand};
use rehearse_sim::track::{self, Draft, Stamp};
use serde_json::{Value, json};

use crate::board::{long, zone_of};
use crate::hub::Hub;

/// A drill served: its settings, its clock and where it stands.
pub struct LiveDrill {
    pub spec: DrillSpec,
    /// The instant the drill's time 0 stands for.
    pub origin: Timestamp,
    clock: Mutex<Clock>,
    /// Where it stands, as the page shows it.
    stand: Mutex<Value>,
}

/// The drill's time (ms from its origin) against the wall clock.
#[derive(Clone, Copy, Debug)]
struct Clock {
    base_ms: u64,
    base_wall: Instant,
    running: bool,
    /// It never passes this (the drill's next record).
    cap_ms: u64,
    speed: f64,
}

impl Clock {
    fn unbounded(&self) -> u64 {
        if !self.running {
            return self.base_ms;
        }
        let run = self.base_wall.elapsed().as_secs_f64() * self.speed * 1000.0;
        self.base_ms.saturating_add(run as u64)
    }

    fn now_ms(&self) -> u64 {
        self.unbounded().min(self.cap_ms.max(self.base_ms))
    }

    /// Runs on from `ms`, now.
    fn run_from(&mut self, ms: u64) {
        *self = Clock { base_ms: ms, base_wall: Instant::now(), running: true, ..*self };
    }

    fn stop_at(&mut self, ms: u64) {
        *self = Clock { base_ms: ms, base_wall: Instant::now(), running: false, cap_ms: ms, ..*self };
    }

    /// How long on the wall clock until the drill's time reaches `ms`.
    fn wall_until(&self, ms: u64) -> Duration {
        let left = ms.saturating_sub(self.unbounded());
        Duration::from_secs_f64(left as f64 / 1000.0 / self.speed)
    }
}

impl LiveDrill {
    pub fn new(spec: DrillSpec, origin: Timestamp) -> LiveDrill {
        let clock = Clock {
            base_ms: 0,
            base_wall: Instant::now(),
            running: false,
            cap_ms: 0,
            speed: f64::from(spec.speed.max(1)),
        };
        LiveDrill { spec, origin, clock: Mutex::new(clock), stand: Mutex::new(json!({ "state": "starting" })) }
    }

    fn clock(&self) -> std::sync::MutexGuard<'_, Clock> {
        self.clock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The drill's "now".
    pub fn now(&self) -> Timestamp {
        let ms = self.clock().now_ms();
        self.origin.saturating_add(SignedDuration::from_millis(ms as i64)).unwrap_or(self.origin)
    }

    /// What the page shows of the drill: its settings, its clock, where it
    /// stands.
    pub fn to_json(&self) -> Value {
        let c = *self.clock();
        let mut v = self.stand.lock().unwrap_or_else(PoisonError::into_inner).clone();
        v["speed"] = json!(self.spec.speed);
        v["seed"] = json!(self.spec.seed);
        v["faults"] = json!(self.spec.faults);
        v["clock_running"] = json!(c.running);
        v["now"] = json!(self.now().to_string());
        v
    }

    fn set_stand(&self, v: Value) {
        *self.stand.lock().unwrap_or_else(PoisonError::into_inner) = v;
    }
}

/// Drives the drill of `hub` until it is over (or its log stops holding
/// as a drill: then it says why on the page and stops).
pub async fn drive(hub: Arc<Hub>, live: Arc<LiveDrill>) {
    let text = hub.log().scenario_text().to_string();
    let sc = hub.scenario.clone();
    let zone = zone_of(&sc);
    let mut drill = match Drill::new(&sc, &text, live.spec.clone(), live.origin) {
        Ok(d) => d,
        Err(e) => return stopped(&live, &e.to_string()),
    };
    let mut records = hub.records.subscribe();
    loop {
        records.borrow_and_update();
        if let Err(e) = drill.observe(hub.log().entries()) {
            return stopped(&live, &e.to_string());
        }
        let stand = drill.stand();
        live.set_stand(stand_json(&drill, stand, &sc, &zone));
        match stand {
            Stand::Over { at_ms, .. } => {
                live.clock().stop_at(at_ms);
                hub.refresh_board();
                return;
            }
            Stand::Paused { at_ms, .. } => {
                live.clock().stop_at(at_ms);
                hub.refresh_board();
                if records.changed().await.is_err() {
                    return;
                }
                continue;
            }
            Stand::Running { next_ms, idle } => {
                {
                    let mut c = live.clock();
                    if !c.running || (idle && c.unbounded() < next_ms) {
                        // Resumed after a decision, or nothing runs until
                        // the next record: time passes at once.
                        c.run_from(if idle { next_ms } else { drill.last_ms() });
                    }
                    c.cap_ms = next_ms;
                }
                let wait = live.clock().wall_until(next_ms);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    r = records.changed() => { if r.is_err() { return } continue }
                }
            }
        }
        // Write the next record, unless the bridge wrote one meanwhile (it
        // is folded first).
        let Some(next) = drill.next().cloned() else { continue };
        let _one_at_a_time = hub.write_lock.lock().await;
        hub.sync().await;
        if hub.log().entries().len() > drill.seen() {
            continue;
        }
        let at = drill.instant(next.at_ms);
        let draft = Draft {
            at: Stamp::new(at, &zone),
            by: Some(drill::BY.to_string()),
            record: next.record,
            key: Some(format!("drill-{}", drill.seen())),
        };
        let path = hub.path.clone();
        let written = tokio::task::spawn_blocking(move || track::record(&path, draft, at)).await;
        match written {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return stopped(&live, &format!("the log refused the drill's record: {e}")),
            Err(e) => return stopped(&live, &format!("the write stopped: {e}")),
        }
        hub.sync().await;
    }
}

fn stopped(live: &LiveDrill, why: &str) {
    tracing::error!("the drill stopped: {why}");
    live.set_stand(json!({ "state": "stopped", "why": why }));
}

fn stand_json(d: &Drill<'_>, stand: Stand, sc: &rehearse_core::scenario::Scenario, zone: &jiff::tz::TimeZone) -> Value {
    match stand {
        Stand::Running { next_ms, idle } => {
            json!({ "state": "running", "next_at": long(d.instant(next_ms), zone), "idle": idle })
        }
        Stand::Paused { step, fault, at_ms } => {
            let f = &sc.faults[fault.index()];
            json!({
                "state": "paused",
                "step": sc.step(step).id, "step_name": sc.step(step).name,
                "fault": f.id, "message": f.message,
                "at": long(d.instant(at_ms), zone),
                "proposed": d.proposed().map(|a| a.name()),
            })
        }
        Stand::Over { outcome, at_ms } => {
            json!({ "state": "over", "outcome": outcome.to_string(), "at": long(d.instant(at_ms), zone) })
        }
    }
}
