//! `rehearse live` end to end, over loopback: the two URLs and their
//! tokens, the API, the push channel (records posted, and records a
//! `rehearse track` in another process writes), kill -9 and a restart, the
//! status pack, and a load test (short here; `.ci/run` runs it for 30 s
//! with 50 pages in release mode: see `load`).
//!
//! Servers bind port 0 and the tests read the port from what the server
//! prints; every wait is on a condition, with a generous limit.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{rehearse, stderr, stdout};

/// A weekend log of the go-live weekend, opened and its first step started
/// (stamped now: the server stamps what the page records now too).
pub fn weekend(dir: &Path) -> PathBuf {
    let log = dir.join("w.sqlite");
    let l = log.to_str().unwrap();
    let o = rehearse(&["track", l, "init", "scenarios/go-live-weekend.toml", "--by", "lead"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = rehearse(&["track", l, "start", "users-out", "--by", "ops"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    log
}

/// A running `rehearse live`, killed (SIGKILL) when dropped.
pub struct Live {
    child: Child,
    pub base: String,
    pub bridge: String,
    pub sponsor: String,
    pub banner: String,
}

impl Live {
    pub fn start(log: &Path, runs: &str) -> Live {
        Live::spawn(&[log.to_str().unwrap(), "--runs", runs])
    }

    /// `rehearse live ARGS` on port 0, one forecast thread.
    pub fn spawn(args: &[&str]) -> Live {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rehearse"))
            .arg("live")
            .args(args)
            .args(["--bind", "127.0.0.1:0", "--threads", "1"])
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("rehearse live starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut banner = String::new();
        let mut url = |word: &str| -> String {
            let mut line = lines.next().expect("the server prints its URLs").unwrap();
            if line.starts_with("drill") {
                banner.push_str(&line);
                banner.push('\n');
                line = lines.next().expect("the server prints its URLs").unwrap();
            }
            banner.push_str(&line);
            banner.push('\n');
            assert!(line.starts_with(word), "{line}");
            line.split_whitespace().nth(1).unwrap().to_string()
        };
        let first = url("live");
        let _ = first;
        let bridge = url("bridge");
        let sponsor = url("sponsor");
        let token = |u: &str| u.split("token=").nth(1).unwrap().to_string();
        let base = bridge.split("/?").next().unwrap().to_string();
        Live { child, base, bridge: token(&bridge), sponsor: token(&sponsor), banner }
    }

    /// Stops it as `kill -9` would.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap()
}

/// POSTs a record with the bridge's token; the status and the answer.
pub async fn post(c: &reqwest::Client, live: &Live, body: Value) -> (u16, Value) {
    let r = c.post(format!("{}/api/track", live.base)).bearer_auth(&live.bridge).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A push channel, read event by event.
pub struct Events {
    resp: reqwest::Response,
    buf: String,
}

/// One server-sent event.
#[derive(Debug)]
pub struct Event {
    pub kind: String,
    pub data: Value,
}

impl Events {
    pub async fn open(c: &reqwest::Client, base: &str, token: &str) -> Events {
        let resp =
            c.get(format!("{base}/api/events?token={token}")).timeout(Duration::from_secs(3600)).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        Events { resp, buf: String::new() }
    }

    /// The next event (keep-alive comments skipped); `None` when the
    /// stream ends.
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut kind, mut data) = (String::new(), String::new());
                for line in block.lines() {
                    if let Some(k) = line.strip_prefix("event:") {
                        kind = k.trim().to_string();
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data.push_str(d.strip_prefix(' ').unwrap_or(d));
                    }
                }
                if kind.is_empty() {
                    continue;
                }
                return Some(Event { kind, data: serde_json::from_str(&data).unwrap() });
            }
            let chunk = self.resp.chunk().await.ok()??;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Reads until a record satisfies `want`, within `limit`.
    pub async fn until_record(&mut self, limit: Duration, want: impl Fn(&Value) -> bool) -> Value {
        tokio::time::timeout(limit, async {
            loop {
                let e = self.next().await.expect("the push channel stays open");
                if e.kind == "record" && want(&e.data) {
                    return e.data;
                }
            }
        })
        .await
        .expect("the record came through the push channel in time")
    }
}

pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn two_urls_and_the_token_rules() {
    let dir = tempfile::tempdir().unwrap();
    let log = weekend(dir.path());
    let live = Live::start(&log, "500");
    assert!(live.banner.contains("loopback only"), "{}", live.banner);
    assert!(live.banner.contains("(may record)") && live.banner.contains("(read-only)"), "{}", live.banner);
    assert_ne!(live.bridge, live.sponsor);
    rt().block_on(async {
        let c = client();
        let get = |path: &str, token: Option<&str>| {
            let mut r = c.get(format!("{}{path}", live.base));
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            r.send()
        };
        assert_eq!(get("/", None).await.unwrap().status().as_u16(), 401);
        assert_eq!(get("/api/forecast", Some("not-a-token")).await.unwrap().status().as_u16(), 401);
        let page = c.get(format!("{}/?token={}", live.base, live.sponsor)).send().await.unwrap();
        assert_eq!(page.status().as_u16(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("const ROLE = \"sponsor\"") && !html.contains("http://") && !html.contains("https://"));
        // The forecast: the forecast --json document, with the board.
        let f: Value = get("/api/forecast", Some(&live.sponsor)).await.unwrap().json().await.unwrap();
        assert_eq!(f["role"], "sponsor");
        let doc = &f["doc"];
        assert_eq!(doc["schema"], 3);
        assert!(doc["p_success"].as_f64().is_some() && doc["go_live"]["p50"].is_string(), "{doc}");
        assert!(doc["forecast"]["running"][0]["step"] == "users-out", "{}", doc["forecast"]);
        let steps = doc["board"]["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 19);
        assert_eq!((&steps[0]["id"], &steps[0]["state"]), (&json!("users-out"), &json!("running")));
        assert_eq!((&steps[1]["id"], &steps[1]["state"]), (&json!("restore-point"), &json!("waiting")));
        assert!(steps[1]["planned_start"].is_string() && steps[1]["start_q"].as_array().unwrap().len() == 3);
        assert_eq!(doc["board"]["callsheet"]["by"], "step");
        assert!(doc["board"]["dated"]["point_of_no_return_at"].is_string());
        // Writes: none without a token, none with the sponsor's.
        let note = json!({"action": "note", "text": "hello"});
        let anon = c.post(format!("{}/api/track", live.base)).json(&note).send().await.unwrap();
        assert_eq!(anon.status().as_u16(), 401);
        let sponsor =
            c.post(format!("{}/api/track?token={}", live.base, live.sponsor)).json(&note).send().await.unwrap();
        assert_eq!(sponsor.status().as_u16(), 403);
        let (status, r) = post(&c, &live, note).await;
        assert_eq!((status, &r["seq"], &r["kind"]), (201, &json!(2), &json!("note")), "{r}");
    });
    // The tokens' table is beside the log, outside its chain: the log
    // replays OK and takes records as before.
    let o = rehearse(&["replay", log.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("OK") && stdout(&o).contains("3 records"), "{}", stdout(&o));
}

#[test]
fn track_refuses_with_the_reason_and_records_a_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = weekend(dir.path());
    let live = Live::start(&log, "500");
    rt().block_on(async {
        let c = client();
        let raw = c
            .post(format!("{}/api/track", live.base))
            .bearer_auth(&live.bridge)
            .body("{\"action\": \"done\",")
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status().as_u16(), 400);
        assert!(raw.text().await.unwrap().contains("malformed JSON"));
        let (s, r) = post(&c, &live, json!({"action": "start"})).await;
        assert_eq!(s, 400, "{r}");
        let (s, r) = post(&c, &live, json!({"action": "done", "step": "swap"})).await;
        assert_eq!(s, 422);
        assert!(r["error"].as_str().unwrap().contains("`swap` cannot be done: it has not started"), "{r}");
        let (s, r) = post(&c, &live, json!({"action": "start", "step": "restor-point"})).await;
        assert_eq!(s, 422);
        assert!(r["error"].as_str().unwrap().contains("did you mean `restore-point`"), "{r}");
        // One key, one record: retried in sequence and all at once.
        let done = json!({"action": "done", "step": "users-out", "by": "ops", "idempotency_key": "k-1"});
        let (s1, r1) = post(&c, &live, done.clone()).await;
        let (s2, r2) = post(&c, &live, done.clone()).await;
        assert_eq!((s1, s2), (201, 200));
        assert_eq!((&r1["seq"], r2["already"].as_bool()), (&r2["seq"], Some(true)));
        let racing: Vec<_> = (0..8)
            .map(|_| {
                let (c, live_base, bridge) = (c.clone(), live.base.clone(), live.bridge.clone());
                tokio::spawn(async move {
                    let body = json!({"action": "note", "text": "race", "idempotency_key": "k-2"});
                    c.post(format!("{live_base}/api/track")).bearer_auth(bridge).json(&body).send().await.unwrap()
                })
            })
            .collect();
        let mut created = 0;
        for h in racing {
            let r = h.await.unwrap();
            created += usize::from(r.status().as_u16() == 201);
            assert!(r.status().is_success());
        }
        assert_eq!(created, 1);
        let (s, r) = post(&c, &live, json!({"action": "note", "text": "other", "idempotency_key": "k-2"})).await;
        assert_eq!(s, 409, "{r}");
    });
    let o = rehearse(&["track", log.to_str().unwrap(), "show", "--json"]);
    let shown: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let keys: Vec<&str> = shown["records"].as_array().unwrap().iter().filter_map(|r| r["key"].as_str()).collect();
    assert_eq!(keys, ["k-1", "k-2"]);
}

#[test]
fn the_push_channel_sends_records_from_the_page_and_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let log = weekend(dir.path());
    let live = Live::start(&log, "500");
    rt().block_on(async {
        let c = client();
        let mut ev = Events::open(&c, &live.base, &live.sponsor).await;
        ev.until_record(Duration::from_secs(30), |r| r["seq"] == 1 && r["text"] == "start users-out").await;
        let (s, _) = post(&c, &live, json!({"action": "done", "step": "users-out"})).await;
        assert_eq!(s, 201);
        ev.until_record(Duration::from_secs(30), |r| r["seq"] == 2 && r["kind"] == "done").await;
        // A new forecast follows: restore-point is now next.
        tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let e = ev.next().await.unwrap();
                let steps = &e.data["board"]["steps"];
                if e.kind == "forecast" && steps[1]["state"] == "next" {
                    return;
                }
            }
        })
        .await
        .expect("a new forecast with restore-point next");
        // `rehearse track` in another process, while the server runs.
        let o = rehearse(&["track", log.to_str().unwrap(), "start", "restore-point", "--by", "dba"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let seen = timed(ev.until_record(Duration::from_secs(30), |r| r["seq"] == 3)).await;
        eprintln!("a record written by `rehearse track` reached the page after {} ms", seen.1);
        assert_eq!((&seen.0["text"], &seen.0["by"]), (&json!("start restore-point"), &json!("dba")));
    });
}

/// Runs `f`, and how long it took in milliseconds: a figure to report,
/// never to assert on.
#[allow(clippy::disallowed_methods)] // the tests time a server; nothing simulated reads this
pub async fn timed<T>(f: impl std::future::Future<Output = T>) -> (T, u128) {
    let t0 = std::time::Instant::now();
    let v = f.await;
    (v, t0.elapsed().as_millis())
}

#[test]
fn kill_9_loses_nothing_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let log = weekend(dir.path());
    let mut live = Live::start(&log, "500");
    let n = 60;
    let accepted: Vec<String> = rt().block_on(async {
        let c = client();
        let mut writers = Vec::new();
        for i in 0..n {
            let (c, base, bridge) = (c.clone(), live.base.clone(), live.bridge.clone());
            writers.push(tokio::spawn(async move {
                let key = format!("kill-{i}");
                let body = json!({"action": "note", "text": format!("note {i}"), "idempotency_key": key});
                let r = c.post(format!("{base}/api/track")).bearer_auth(bridge).json(&body).send().await;
                r.ok().filter(|r| r.status().as_u16() == 201).map(|_| key)
            }));
        }
        // Kill it as soon as a third of the writes are in, the others
        // in flight or not sent.
        let mut got = Vec::new();
        for (i, w) in writers.into_iter().enumerate() {
            if i == n / 3 {
                live.kill9();
            }
            if let Some(k) = w.await.unwrap() {
                got.push(k);
            }
        }
        got
    });
    assert!(!accepted.is_empty());
    // Nothing accepted is lost; the log is sound.
    let o = rehearse(&["replay", log.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let keys = |log: &Path| -> Vec<String> {
        let o = rehearse(&["track", log.to_str().unwrap(), "show", "--json"]);
        let shown: Value = serde_json::from_str(&stdout(&o)).unwrap();
        shown["records"].as_array().unwrap().iter().filter_map(|r| r["key"].as_str().map(str::to_string)).collect()
    };
    let stored = keys(&log);
    for k in &accepted {
        assert!(stored.contains(k), "{k} was accepted and is not in the log");
    }
    // Restarted, the writers retry everything with the same keys: every
    // write is in the log exactly once.
    let live = Live::start(&log, "500");
    rt().block_on(async {
        let c = client();
        for i in 0..n {
            let body = json!({"action": "note", "text": format!("note {i}"), "idempotency_key": format!("kill-{i}")});
            let (s, r) = post(&c, &live, body).await;
            assert!(s == 200 || s == 201, "{s} {r}");
        }
    });
    let mut after = keys(&log);
    assert_eq!(after.len(), n);
    after.sort();
    after.dedup();
    assert_eq!(after.len(), n, "a key recorded twice");
}

#[test]
fn the_status_pack_says_what_changed_since_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let log = weekend(dir.path());
    let l = log.to_str().unwrap();
    let o = rehearse(&["status", l, "--markdown", "--runs", "500"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let first = stdout(&o);
    assert!(first.starts_with("# Status: Production go-live weekend (dated): **"), "{first}");
    assert!(first.contains("first status pack") && first.contains("start users-out (ops)"), "{first}");
    assert!(first.contains("| Go-live P50 | ") && first.contains("## Next milestones"), "{first}");
    let o = rehearse(&["track", l, "done", "users-out", "--by", "ops"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = rehearse(&["status", l, "--runs", "500"]);
    let second = stdout(&o);
    assert!(second.contains("records after seq 1") && second.contains("done users-out (ops)"), "{second}");
    assert!(!second.contains("start users-out"), "{second}");
    let html = dir.path().join("status.html");
    let o = rehearse(&["status", l, "--runs", "500", "--html", html.to_str().unwrap(), "--no-record"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<h2>What changed</h2>") && !page.contains("<script"), "{page}");
    // The packs are beside the log, outside its chain.
    let o = rehearse(&["replay", l]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn bad_input_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.sqlite");
    for (args, says) in [
        (vec!["live", missing.to_str().unwrap()], "no such file"),
        (vec!["live", "scenarios/go-live-weekend.toml", "--bind", "127.0.0.1:0"], "not a weekend log"),
        (vec!["status", "scenarios/go-live-weekend.toml"], "not a weekend log"),
        (vec!["live", "x.sqlite", "--bind", "localhost"], "invalid value"),
    ] {
        let o = rehearse(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
    // A port already taken.
    let log = weekend(dir.path());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let o = rehearse(&["live", log.to_str().unwrap(), "--bind", &addr]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(&format!("cannot listen on {addr}")), "{}", stderr(&o));
}

/// The board's drill member, once `want` holds of it.
async fn drill_board(c: &reqwest::Client, live: &Live, want: impl Fn(&Value) -> bool) -> Value {
    tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let r = c.get(format!("{}/api/forecast", live.base)).bearer_auth(&live.sponsor).send().await.unwrap();
            let j: Value = r.json().await.unwrap();
            let b = &j["doc"]["board"];
            if want(b) {
                return b.clone();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the board came to the state in time")
}

/// The must-show: a drill of the go-live with a scripted DVT failure
/// stops at the fault, the plan's recovery proposed and the choices
/// priced; the bridge may only decide (and note); a server killed while
/// the drill waits takes it up again; the decision, made through the API,
/// plays the drill to its end; `replay` plays it again from its seed and
/// the decision and finds the log as recorded; a log whose settings were
/// changed does not play again.
#[test]
fn a_drill_decided_through_the_api_replays() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("drill.sqlite");
    let l = log.to_str().unwrap();
    // `.ci/run` runs this at the x3600 in release mode; here 100
    // simulated hours a second.
    let speed = std::env::var("REHEARSE_DRILL_SPEED").unwrap_or_else(|_| "360000".into());
    let drill_args = [
        "--drill",
        "scenarios/ax2012-go-live.toml",
        l,
        "--speed",
        &speed,
        "--fault",
        "dvt@transformation",
        "--runs",
        "400",
    ];
    // Settings the plan refuses leave nothing behind.
    let o = rehearse(&["live", "--drill", "scenarios/ax2012-go-live.toml", l, "--fault", "dvt@transformaton"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did you mean `transformation`?"), "{}", stderr(&o));
    assert!(!log.exists(), "no log is made for a drill that cannot start");
    let mut live = Live::spawn(&drill_args);
    assert!(live.banner.contains(&format!("drill    seed 0, x{speed} (dvt@transformation)")), "{}", live.banner);
    rt().block_on(async {
        let c = client();
        let b = drill_board(&c, &live, |b| b["drill"]["state"] == "paused" && !b["options"].is_null()).await;
        assert_eq!(b["drill"]["fault"], "dvt");
        assert_eq!(b["drill"]["step"], "transformation");
        assert_eq!(b["drill"]["proposed"], "resume");
        assert_eq!(b["options"]["plan_action"], "resume");
        let choices: Vec<&str> =
            b["options"]["choices"].as_array().unwrap().iter().map(|c| c["choice"].as_str().unwrap()).collect();
        assert_eq!(choices, ["plan", "retry", "rollback"]);
        // People decide; the drill runs the steps and keeps the time.
        let refused = [
            json!({"action": "done", "step": "transformation", "by": "lead"}),
            json!({"action": "decide", "decision": "resume", "step": "transformation", "by": "lead", "why": "x", "at": "2020-01-01T00:00:00Z"}),
            json!({"action": "decide", "decision": "resume", "step": "transformation", "by": "drill", "why": "x"}),
        ];
        for body in refused {
            let (status, answer) = post(&c, &live, body.clone()).await;
            assert_eq!(status, 422, "{body}: {answer}");
        }
    });
    // Killed while the drill waits for the bridge: taken up again.
    live.kill9();
    let live = Live::spawn(&[l, "--runs", "400"]);
    assert!(live.banner.contains("drill    seed 0"), "{}", live.banner);
    rt().block_on(async {
        let c = client();
        let mut events = Events::open(&c, &live.base, &live.sponsor).await;
        drill_board(&c, &live, |b| b["drill"]["state"] == "paused").await;
        let decision = json!({"action": "decide", "decision": "resume", "step": "transformation", "by": "lead", "why": "the runbook resumes"});
        let (status, answer) = post(&c, &live, decision).await;
        assert_eq!(status, 201, "{answer}");
        let over = events
            .until_record(Duration::from_secs(120), |r| r["text"].as_str().is_some_and(|t| t.contains("drill is over")))
            .await;
        assert_eq!(over["by"], "drill");
        let b = drill_board(&c, &live, |b| b["drill"]["state"] == "over").await;
        assert_eq!(b["drill"]["outcome"], "committed");
    });
    drop(live);
    let o = rehearse(&["replay", l]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("OK"), "{}", stdout(&o));
    // The debrief: how it ended against the estimate, the decision
    // against the plan's.
    let o = rehearse(&["status", l, "--runs", "400", "--no-record"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o).replace("\n    ", " ");
    assert!(text.contains(&format!("debrief\n  drill of seed 0, x{speed}, dvt@transformation")), "{text}");
    assert!(text.contains("it ended committed with"), "{text}");
    assert!(text.contains("dvt on transformation; lead chose resume, as the plan says: committed"), "{text}");
    let debrief = stdout(&o).split("\ndebrief\n").nth(1).unwrap().to_string();
    assert!(debrief.lines().all(|l| l.chars().count() <= 80), "{debrief}");
    let o = rehearse(&["track", l, "note", "by hand"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("this log is a drill"), "{}", stderr(&o));
    // The same records under another seed are not that drill.
    let conn = rusqlite::Connection::open(&log).unwrap();
    conn.execute("UPDATE run_meta SET value = '1' WHERE key = 'drill_seed'", []).unwrap();
    drop(conn);
    let o = rehearse(&["replay", l]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("does not play again as recorded"), "{}{}", stdout(&o), stderr(&o));
}
