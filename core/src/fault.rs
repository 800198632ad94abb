//! Faults and recovery policies: what can go wrong in a plan, and what the
//! plan says to do about it. Also the catalogue of the faults the upgrade
//! documentation names, with its wording, that scenarios include by id.
//!
//! Only the domain lives here: the raw `[[fault]]` and `[recovery.*]`
//! tables are in `scenario::raw` and their checks in
//! `scenario::validate::faults`, so that `fault` needs nothing of the
//! scenario but `StepIdx` and the two modules do not import each other
//! in a circle.

use serde::{Deserialize, Serialize};

use crate::dist::Dist;
use crate::scenario::StepIdx;
use crate::time::SimDuration;

/// Index of a fault in [`crate::Scenario::faults`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FaultIdx(pub u32);

impl FaultIdx {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Index of a recovery policy in [`crate::Scenario::policies`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyIdx(pub u32);

impl PolicyIdx {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A fault that may strike some steps.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub id: String,
    /// The catalogue entry it was taken from, if any.
    pub catalog: Option<&'static str>,
    /// The error as the documentation words it.
    pub message: String,
    /// The leaf steps it can strike.
    pub steps: Vec<StepIdx>,
    /// Chance of striking, per attempt of a step.
    pub probability: f64,
    /// Share of the attempt's work done when it strikes: drawn uniformly in
    /// this range. The work done is lost.
    pub at: (f64, f64),
    /// Transient faults clear on retry; persistent ones strike every attempt
    /// until a recovery with a `fix` has run.
    pub persistent: bool,
    /// The step ends with its outcome unknown (the connection dropped during
    /// the commit): recovery must verify before it goes on.
    pub unknown_outcome: bool,
    pub recovery: PolicyIdx,
    pub line: u32,
}

/// What a recovery does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Continue the failed step where it stopped ("Resume" in LCS and in
    /// the toolkit: "the process will pick up at this step and move
    /// forward"): the next attempt does what was left of the interrupted one.
    Resume,
    /// Start the failed step again from its beginning: the next attempt is
    /// the whole step (a rebuild, a reinitialised snapshot, a revalidation,
    /// `-rerunstep` of the failed runbook step).
    Retry,
    /// Run again from an earlier step (`AXUpdateInstaller execute -rerunstep=N`).
    Rerun,
    /// Reverse the failed package deployment, then apply it again.
    RollbackPackage,
    /// Roll back the whole upgrade: point-in-time restore, swap back to the
    /// original environment, online again as before.
    Rollback,
    /// Cancel the upgrade from the original environment (before the swap).
    Cancel,
    /// Stop: the run ends without committing or rolling back.
    Abort,
}

impl Action {
    /// Every action, in the order the documentation lists them.
    pub const ALL: [Action; 7] = [
        Action::Resume,
        Action::Retry,
        Action::Rerun,
        Action::RollbackPackage,
        Action::Rollback,
        Action::Cancel,
        Action::Abort,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::Resume => "resume",
            Action::Retry => "retry",
            Action::Rerun => "rerun",
            Action::RollbackPackage => "rollback-package",
            Action::Rollback => "rollback",
            Action::Cancel => "cancel",
            Action::Abort => "abort",
        }
    }

    /// Whether the action tries the step again.
    pub fn retries(self) -> bool {
        matches!(self, Action::Resume | Action::Retry | Action::Rerun | Action::RollbackPackage)
    }
}

/// A recovery policy: `[recovery.NAME]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub name: String,
    pub action: Action,
    /// Time for someone to notice and act (it is 3 a.m.).
    pub reaction: Option<Dist>,
    /// Attempts of the step in all, the first included (retrying actions).
    pub max_attempts: u32,
    /// What to do when the budget is spent (retrying actions).
    pub then: Option<PolicyIdx>,
    /// Time to fix the cause; clears persistent faults on the step.
    pub fix: Option<Dist>,
    /// How long the undo takes (rollback, rollback-package, cancel).
    pub duration: Option<Dist>,
    /// Rollback: the latest time, after downtime began, to begin it.
    pub deadline: Option<SimDuration>,
    /// Rollback: what to do instead once the deadline has passed.
    pub past_deadline: Option<PolicyIdx>,
    /// Rerun: the step to run again from.
    pub from: Option<StepIdx>,
    /// Time to find out a step's real outcome when it is unknown.
    pub verify: Option<Dist>,
}

/// A documented fault: its wording, where it comes from, and its
/// documented recovery.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CatalogEntry {
    pub id: &'static str,
    pub message: &'static str,
    /// `message` is a document's own words, verbatim (as the page renders
    /// them: a run of spaces is one); false: a paraphrase, because no
    /// document words this error.
    pub verbatim: bool,
    pub source: &'static str,
    /// The documented recovery, as an action name (and so the default
    /// policy name).
    pub recovery: &'static str,
    pub persistent: bool,
}

/// The faults the upgrade documentation names. Messages are quoted as
/// published where a document words the error (`verbatim`), and marked as
/// paraphrases where none does; none of the documents gives a rate, so
/// probabilities are the scenario's to state.
pub const CATALOG: &[CatalogEntry] = &[
    CatalogEntry {
        id: "dvt-mrprocessservice",
        message: "Upgrade failed at step X: DVT script for service model: MRProcessService",
        verbatim: true,
        source: "001 Known issues: intermittent, resolved by Resume",
        recovery: "resume",
        persistent: false,
    },
    CatalogEntry {
        id: "ttscommit",
        message: "Application configuration sync failed. Call to TTSCOMMIT without first calling TTSBEGIN.",
        verbatim: true,
        source: "001 Known issues: intermittent, resolved by Resume",
        recovery: "resume",
        persistent: false,
    },
    CatalogEntry {
        id: "package-deployment-failed",
        message: "Package deployment failed",
        verbatim: false, // paraphrase: no document words this error
        source: "001 Package Application: use the Rollback button to reverse that package deployment",
        recovery: "rollback-package",
        persistent: true,
    },
    CatalogEntry {
        id: "prepare-could-not-start",
        message: "Prepare operation could not start. Microsoft support has been notified. If the issue persists, please contact support with this ID",
        verbatim: true,
        source: "001 Known issues: environment certificates; submit a support ticket",
        recovery: "support-ticket",
        persistent: true,
    },
    CatalogEntry {
        id: "staging-deployment-failed",
        message: "Staging Deployment has failed",
        verbatim: true,
        source: "001 Preparation: no Azure capacity in the region; DSE resolves it and emails",
        recovery: "wait-for-dse",
        persistent: true,
    },
    CatalogEntry {
        id: "runbook-step-failed",
        message: "The runbook step failed: review the runbook logs, then AXUpdateInstaller.exe execute -rerunstep=N",
        verbatim: false, // paraphrase: no document words this error
        source: "002 Troubleshooting: rerun the runbook after a failure",
        recovery: "rerun",
        persistent: false,
    },
    CatalogEntry {
        id: "upgrade-script-error",
        message: "PreSync/PostSync upgrade script failed: see RELEASEUPDATESCRIPTSERRORLOG",
        verbatim: false, // paraphrase: no document words this error
        source: "002 Troubleshooting: view details about a PreSync or PostSync upgrade job",
        recovery: "fix-and-rerun",
        persistent: true,
    },
    CatalogEntry {
        id: "services-left-running",
        message: "If these are running, you will get locking issues on the database.",
        verbatim: true,
        source: "002 Download and restore: ensure these services remained stopped",
        recovery: "stop-services-and-resume",
        persistent: true,
    },
    CatalogEntry {
        id: "wrong-collation",
        message: "The collation of the AX 2012 database must be SQL_Latin1_General_CP1_CI_AS. If you're using a different collation, contact Microsoft Support for assistance.",
        verbatim: true,
        source: "002 Back up your AX 2012 database",
        recovery: "abort",
        persistent: true,
    },
    CatalogEntry {
        id: "record-counts-differ",
        message: "Record counts differ between source and target: replication is not complete",
        verbatim: false, // paraphrase: no document words this error
        source: "003 Cutover: compare record counts; wait for replication and validate again",
        recovery: "wait-and-revalidate",
        persistent: false,
    },
    CatalogEntry {
        id: "snapshot-waiting",
        message: "Snapshot is waiting for more than two hours: reinitialise the subscription",
        verbatim: false, // paraphrase: no document words this error
        source: "Database Upgrade Toolkit troubleshooting",
        recovery: "reinitialise-subscription",
        persistent: true,
    },
    CatalogEntry {
        id: "validation-failed",
        message: "Validation failed after the data upgrade",
        verbatim: false, // paraphrase: no document words this error
        source: "001 Commit or Rollback: if the validation fails, use the Rollback action",
        recovery: "rollback",
        persistent: true,
    },
];

/// The catalogue entry with this id.
pub fn catalog(id: &str) -> Option<&'static CatalogEntry> {
    CATALOG.iter().find(|e| e.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documents' own sentences, copied from `shared/domain/` (001 and
    /// 002) as the pages render them (runs of spaces as one).
    const DOCUMENTS: &[(&str, &str)] = &[
        ("001", "*Upgrade failed at step X: DVT script for service model: MRProcessService*"),
        ("001", "*Application configuration sync failed. Call to TTSCOMMIT without first calling TTSBEGIN.*"),
        (
            "001",
            "*Prepare operation could not start. Microsoft support has been notified. If the issue persists, please contact support with this ID*",
        ),
        ("001", "*Note* - if you receive an error that Staging Deployment has failed, Microsoft Dynamics Service"),
        ("002", "If these are running, you will get locking issues on the database."),
        (
            "002",
            "The collation of the AX 2012 database must be **SQL_Latin1_General_CP1_CI_AS**. If you're using a different collation, contact Microsoft Support for assistance.",
        ),
    ];

    /// Every message marked verbatim is in a document, word for word; every
    /// other one is in none (so it is rightly a paraphrase).
    #[test]
    fn verbatim_messages_are_the_documents_words() {
        let plain = |s: &str| s.replace("**", "").replace('*', "");
        for e in CATALOG {
            let found = DOCUMENTS.iter().find(|(_, text)| plain(text).contains(e.message));
            assert_eq!(found.is_some(), e.verbatim, "{}: {:?}", e.id, e.message);
            if let Some((doc, _)) = found {
                assert!(e.source.starts_with(doc), "{}: quoted from {doc}, sourced {}", e.id, e.source);
            }
        }
        assert_eq!(CATALOG.iter().filter(|e| e.verbatim).count(), DOCUMENTS.len());
    }
}
