//! Verifying a stored run: each event checked against the stored link
//! before it, on all cores, and the `at_ms` and `kind` columns, outside the
//! chain, against the payload; the first damage in seq order is the answer,
//! as when checking one by one.

use rehearse_core::event::EventRecord;
use rehearse_core::scenario::Scenario;

use super::super::{Chain, LogError, Verifier};
use super::{StoredEvents, in_parallel, threads_for};

/// Verifies a store's events in seq order, chained from `genesis` (the
/// run's identity, [`super::StoredRun::genesis`]): the events up to the
/// first damaged one, and the damage, if any. A payload that does not parse, or
/// whose seq is not the row's, breaks the chain at the row's seq; an
/// `at_ms` or `kind` column that says other than the payload is damage too
/// (queries read them).
///
/// The events are checked on all cores (each against the stored link
/// before it, see [`Verifier::check`]); the answer is that of checking them
/// one by one, whatever the number of threads.
pub fn verify_stored(
    scenario: &Scenario,
    genesis: &Chain,
    events: &StoredEvents,
) -> (Vec<EventRecord>, Option<LogError>) {
    let verifier = Verifier::new(scenario);
    let n = events.len();
    let check_range = |range: std::ops::Range<usize>| -> (Vec<EventRecord>, Option<LogError>) {
        // The first part's vector takes the others' records after it: room
        // for all of them up front, so they are copied in once.
        let mut out = Vec::with_capacity(if range.start == 0 { n } else { range.len() });
        let mut prev = if range.start == 0 { genesis } else { events.link_at(range.start - 1) };
        for (seq, text, link, at_ms, kind) in events.range(range) {
            match verifier.check(seq, prev, text, link) {
                Ok(r) if r.seq == seq => {
                    let column = if at_ms != i64::try_from(r.at.as_ms()).ok() {
                        Some("at_ms")
                    } else if kind != Some(r.event.kind()) {
                        Some("kind")
                    } else {
                        None
                    };
                    if let Some(column) = column {
                        return (out, Some(LogError::ColumnDiffers { seq, column }));
                    }
                    out.push(r);
                }
                Ok(_) | Err(LogError::NotARecord { .. }) => return (out, Some(LogError::ChainBroken { seq })),
                Err(e) => return (out, Some(e)),
            }
            prev = link;
        }
        (out, None)
    };
    let threads = threads_for(n);
    let per = n.div_ceil(threads);
    let parts = in_parallel(threads, |t| check_range((t * per).min(n)..((t + 1) * per).min(n)));
    // The parts in order, up to the first damaged one.
    let mut parts = parts.into_iter();
    let (mut records, mut damage) = parts.next().unwrap_or_default();
    for (part, part_damage) in parts {
        if damage.is_some() {
            break;
        }
        records.extend(part);
        damage = part_damage;
    }
    tracing::debug!(events = n, threads, verified = records.len(), damage = ?damage, "store verified");
    (records, damage)
}

#[cfg(test)]
mod tests {
    use rehearse_core::{Calendar, Mode};

    use super::super::testing::chain;
    use super::super::{SqliteWriter, read_store};
    use crate::{EventSink, MemorySink, Plan, RunOptions, Simulator};

    /// Reading and verifying a large store on several threads says what
    /// checking one event after the other says, wherever the damage is (at
    /// the seam between two threads' parts too).
    #[test]
    fn parallel_reads_and_checks_agree_with_one_by_one() {
        use super::verify_stored;
        use crate::store::{LogError, Verifier};
        let (text, scenario) = chain(10_000);
        let plan = Plan::new(&scenario, crate::digest(&text));
        let mut memory = MemorySink::new();
        Simulator::new(&plan).run(&RunOptions::new(0, Mode::Median), &mut memory).unwrap();
        let n = memory.records.len();
        assert!(n > super::super::PARALLEL_MIN);
        let dir = std::env::temp_dir().join(format!("rehearse-parallel-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pristine = dir.join("pristine.sqlite");
        let cal = Calendar::parse("2022-05-20T06:00:00").unwrap();
        let mut w = SqliteWriter::create(&pristine, &scenario, cal, &[]).unwrap();
        for r in &memory.records {
            w.record(r).unwrap();
        }
        w.close("finished").unwrap();
        let one_by_one = |genesis, events: &super::StoredEvents| {
            let mut v = Verifier::after(&scenario, genesis);
            let mut out = Vec::new();
            for (seq, payload, chain) in events.iter() {
                match v.verify(seq, payload, chain) {
                    Ok(r) if r.seq == seq => out.push(r),
                    Ok(_) | Err(LogError::NotARecord { .. }) => return (out, Some(LogError::ChainBroken { seq })),
                    Err(e) => return (out, Some(e)),
                }
            }
            (out, None)
        };
        let stored = read_store(&pristine).unwrap();
        assert_eq!(stored.events.len(), n);
        let (records, damage) = verify_stored(&scenario, &stored.genesis, &stored.events);
        assert!(damage.is_none());
        assert_eq!(records, memory.records);

        let damages = [
            "UPDATE events SET payload = replace(payload, '\"seq\"', '\"sek\"') WHERE seq = ?1",
            "UPDATE events SET chain = zeroblob(16) WHERE seq = ?1",
            "DELETE FROM events WHERE seq = ?1",
            "UPDATE events SET seq = -1 WHERE seq = ?1",
        ];
        for at in [0, 1, n / 2 - 1, n / 2, n / 2 + 1, n - 1] {
            for sql in damages {
                let path = dir.join(format!("damaged-{at}.sqlite"));
                std::fs::copy(&pristine, &path).unwrap();
                let conn = rusqlite::Connection::open(&path).unwrap();
                assert_eq!(conn.execute(sql, [at as i64]).unwrap(), 1, "{sql} at {at}");
                drop(conn);
                let stored = read_store(&path).unwrap();
                let (want_records, want_damage) = one_by_one(stored.genesis, &stored.events);
                let (records, damage) = verify_stored(&scenario, &stored.genesis, &stored.events);
                // (The last event deleted leaves a valid prefix, no damage.)
                assert!(want_damage.is_some() || sql.starts_with("DELETE") && at == n - 1, "{sql} at {at}");
                assert_eq!(format!("{damage:?}"), format!("{want_damage:?}"), "{sql} at {at}");
                assert_eq!(records, want_records, "{sql} at {at}");
                std::fs::remove_file(&path).unwrap();
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
