//! The live bridge under load, on loopback: pages listening on the push
//! channel while writers record notes as fast as the server takes them,
//! for a bounded time. No record lost or doubled, every page got every
//! record in order; the write latency is reported (p50, p99, max), never
//! asserted on.
//!
//! Short here (3 s, 10 pages, 3 writers); `.ci/run` runs it in release
//! mode for 30 s with 50 pages and 5 writers:
//! `REHEARSE_LOAD_SECONDS=30 REHEARSE_LOAD_PAGES=50 REHEARSE_LOAD_WRITERS=5
//! cargo test --release --test tests live_load -- --nocapture`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::live::{Events, Live, client, timed, weekend};
use crate::support::{rehearse, stdout};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn live_load_every_page_gets_every_record_once() {
    let seconds = env("REHEARSE_LOAD_SECONDS", 3);
    let n_pages = env("REHEARSE_LOAD_PAGES", 10) as usize;
    let n_writers = env("REHEARSE_LOAD_WRITERS", 3) as usize;
    let dir = tempfile::tempdir().unwrap();
    let log = weekend(dir.path());
    let live = Live::start(&log, "2000");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (latencies, errors, seen) = rt.block_on(async {
        let c = client();
        // The pages, each keeping the seqs it was sent.
        let seen: Vec<Arc<Mutex<Vec<u64>>>> = (0..n_pages).map(|_| Arc::default()).collect();
        for s in &seen {
            let mut ev = Events::open(&c, &live.base, &live.sponsor).await;
            let s = s.clone();
            tokio::spawn(async move {
                while let Some(e) = ev.next().await {
                    if e.kind == "record" {
                        s.lock().unwrap().push(e.data["seq"].as_u64().unwrap());
                    }
                }
            });
        }
        let stop = Arc::new(AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..n_writers {
            let (c, base, bridge, stop) = (c.clone(), live.base.clone(), live.bridge.clone(), stop.clone());
            writers.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = Vec::new();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let body =
                        json!({"action": "note", "text": format!("w{w} n{i}"), "idempotency_key": format!("w{w}-{i}")});
                    let req = c.post(format!("{base}/api/track")).bearer_auth(&bridge).json(&body).send();
                    let (r, ms) = timed(req).await;
                    match r {
                        Ok(r) if r.status().as_u16() == 201 => lat.push(ms),
                        Ok(r) => errors.push(format!("{}: {}", r.status(), r.text().await.unwrap_or_default())),
                        Err(e) => errors.push(e.to_string()),
                    }
                    i += 1;
                }
                (lat, errors)
            }));
        }
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        let mut latencies = Vec::new();
        let mut errors = Vec::new();
        for w in writers {
            let (l, e) = w.await.unwrap();
            latencies.extend(l);
            errors.extend(e);
        }
        // Every page catches up with the last record (2 before the load).
        let last = 1 + latencies.len() as u64;
        let caught_up = tokio::time::timeout(Duration::from_secs(300), async {
            while !seen.iter().all(|s| s.lock().unwrap().last() == Some(&last)) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        let lagging: Vec<usize> = seen.iter().map(|s| s.lock().unwrap().len()).collect();
        assert!(caught_up.is_ok(), "pages did not all get record {last}: records per page {lagging:?}");
        let seen: Vec<Vec<u64>> = seen.iter().map(|s| s.lock().unwrap().clone()).collect();
        (latencies, errors, seen)
    });
    assert!(errors.is_empty(), "{} failed writes, first: {:?}", errors.len(), errors.first());
    let n = latencies.len();
    assert!(n > 0);
    let want: Vec<u64> = (0..=1 + n as u64).collect();
    for (p, s) in seen.iter().enumerate() {
        assert!(*s == want, "page {p} got {} records, not each of 0..={} once in order", s.len(), 1 + n);
    }
    // The log holds each write once.
    let o = rehearse(&["track", log.to_str().unwrap(), "show", "--json"]);
    let shown: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let mut keys: Vec<&str> = shown["records"].as_array().unwrap().iter().filter_map(|r| r["key"].as_str()).collect();
    assert_eq!(keys.len(), n);
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), n, "a write recorded twice");
    let mut sorted = latencies.clone();
    sorted.sort_unstable();
    let q = |p: f64| sorted[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
    eprintln!(
        "live load: {seconds} s, {n_pages} pages, {n_writers} writers: {n} records ({:.0}/s), every page got all {}; \
         write latency p50 {} ms, p99 {} ms, max {} ms",
        n as f64 / seconds as f64,
        n + 2,
        q(0.5),
        q(0.99),
        sorted[n - 1]
    );
}
