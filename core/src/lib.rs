//! `rehearse-core`: the domain of a cutover rehearsal — simulated time,
//! duration distributions, the scenario model, events and the run-state fold.
//!
//! Pure by design: nothing here reads files, the clock, the environment or
//! the operating system's randomness, and nothing spawns threads. Random
//! draws take the generator as an argument; building one is `rehearse-sim`'s
//! job.

pub mod anchor;
pub mod conditional;
pub mod data;
pub mod dist;
pub mod draws;
pub mod event;
pub mod fault;
pub mod mix;
pub mod readiness;
pub mod replication;
pub mod scenario;
pub mod state;
pub mod time;
pub mod versions;

pub use anchor::CalendarAnchor;
pub use dist::Dist;
pub use event::{Event, EventRecord, Mode, Outcome, SCHEMA_VERSION, ScenarioDigest};
pub use fault::{Action, Fault, FaultIdx, Policy, PolicyIdx};
pub use scenario::{Scenario, ScenarioError, Step, StepIdx};
pub use state::{RunState, Violation};
pub use time::{Calendar, SimDuration, SimTime};
