//! The event log is the source of truth: folding a written log gives the
//! state the live run had.

use std::io;

use rehearse_core::{EventRecord, Mode, RunState, Scenario};
use rehearse_sim::{EventSink, JsonlWriter, LogError, MemorySink, Plan, RunOptions, Simulator, Tee, read_jsonl};

use crate::support;

/// Folds events as the run produces them: the live state.
struct LiveState(RunState);

impl EventSink for LiveState {
    fn record(&mut self, rec: &EventRecord) -> io::Result<()> {
        self.0.apply(rec);
        Ok(())
    }
}

fn run_with_log(text: &str, s: &Scenario, seed: u64) -> (RunState, MemorySink, Vec<u8>) {
    let plan = Plan::new(s, rehearse_sim::digest(text));
    let mut live = LiveState(RunState::new(s));
    let mut memory = MemorySink::new();
    let mut log = JsonlWriter::new(Vec::new(), s);
    let mut both = Tee(&mut memory, &mut log);
    Simulator::new(&plan).run(&RunOptions::new(seed, Mode::Random), &mut Tee(&mut live, &mut both)).unwrap();
    (live.0, memory, log.into_inner())
}

#[test]
fn replaying_the_written_log_gives_the_live_state() {
    let (text, s) = support::load(support::DATA_UPGRADE);
    for seed in [0, 7, 8, 12345] {
        let (live, memory, bytes) = run_with_log(&text, &s, seed);
        let read = read_jsonl(std::str::from_utf8(&bytes).unwrap(), &s).unwrap();
        assert_eq!(read, memory.records, "the log holds exactly the events of the run");
        let replayed = RunState::replay(&s, &read);
        assert_eq!(replayed, live, "seed {seed}");
        assert!(replayed.violations().is_empty());
        assert!(replayed.finished.is_some());
        assert_eq!(replayed.n_events as usize, read.len());
    }
}

#[test]
fn damaged_logs_are_clear_errors() {
    let (text, s) = support::load(support::DATA_UPGRADE);
    let (_, _, bytes) = run_with_log(&text, &s, 3);
    let log = String::from_utf8(bytes).unwrap();
    // Truncated in the middle of the last line.
    let cut = &log[..log.len() - 10];
    let n_lines = cut.lines().count();
    assert_eq!(read_jsonl(cut, &s), Err(LogError::Truncated { line: n_lines }));
    // A flipped byte in the middle of a line.
    let mut bad = log.clone().into_bytes();
    let second_line = log.find('\n').unwrap() + 5;
    bad[second_line] = b'#';
    match read_jsonl(std::str::from_utf8(&bad).unwrap(), &s) {
        Err(LogError::Malformed { line: 2, .. }) => {}
        other => panic!("{other:?}"),
    }
    // A renamed step breaks the chain at its event.
    let renamed = log.replacen("\"step\":\"upload\"", "\"step\":\"uplaod\"", 1);
    let seq = renamed.lines().position(|l| l.contains("uplaod")).unwrap() as u64;
    assert_eq!(read_jsonl(&renamed, &s), Err(LogError::ChainBroken { seq }));
    // A record that claims another seq is damaged where it stands, not at
    // the seq it claims.
    let lines: Vec<&str> = log.lines().collect();
    let claimed = lines[7].replacen("\"seq\":7,", "\"seq\":1033,", 1);
    assert_ne!(claimed, lines[7], "the record names its seq");
    let mut forged: Vec<&str> = lines.clone();
    forged[7] = &claimed;
    assert_eq!(read_jsonl(&(forged.join("\n") + "\n"), &s), Err(LogError::ChainBroken { seq: 7 }));
    // A sound log of another scenario names steps this one does not have.
    let other_text =
        text.replace("id = \"upload\"", "id = \"transfer\"").replace("after = [\"upload\"]", "after = [\"transfer\"]");
    let other = Scenario::parse(&other_text, "other.toml").unwrap();
    let (_, _, other_log) = run_with_log(&other_text, &other, 3);
    match read_jsonl(std::str::from_utf8(&other_log).unwrap(), &s) {
        Err(e @ LogError::UnknownStep { .. }) => assert!(e.to_string().contains("`transfer`"), "{e}"),
        other => panic!("{other:?}"),
    }
}
