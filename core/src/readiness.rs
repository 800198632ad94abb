//! Go-live readiness: the gates a go/no-go decision checks before the
//! cutover, from "Prepare your production environment to go live" (2024,
//! `004_979b92dc6859e381.txt`) and, for upgrades from AX 2012, its specific
//! requirements and the go-live prerequisites of `003_271fce2e65dad97e.txt`.

use serde::Serialize;

/// The collation the kernel supports (004, 002).
pub const SUPPORTED_COLLATION: &str = "SQL_Latin1_General_CP1_CI_AS";

/// A gate as the documents name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GateDef {
    pub id: &'static str,
    pub title: &'static str,
    pub source: &'static str,
    /// Required only for upgrades from AX 2012 (`ax2012 = true`).
    pub ax2012: bool,
}

const fn gate(id: &'static str, title: &'static str, source: &'static str, ax2012: bool) -> GateDef {
    GateDef { id, title, source, ax2012 }
}

/// Every gate, in checklist order.
pub const GATES: &[GateDef] = &[
    gate("integration-tests", "System integration testing completed and signed off", "004 Go-live readiness", false),
    gate("user-acceptance-tests", "User acceptance testing completed and signed off", "004 Go-live readiness", false),
    gate("performance-tests", "Performance testing completed and signed off", "004 Go-live readiness", false),
    gate(
        "deployable-packages",
        "Code complete; deployable packages ready to move to production",
        "004 Go-live readiness",
        false,
    ),
    gate("data-migration-plan", "Data migration plan created", "004 Go-live readiness", false),
    gate("cutover-plan", "Cutover plan created and signed off", "004 Go-live readiness", false),
    gate(
        "training-and-security-roles",
        "User training completed; the correct security roles assigned",
        "004 Go-live readiness",
        false,
    ),
    gate("licences", "The correct number of licences available and assigned", "004 Go-live readiness", false),
    gate("support-plan", "Production support plan created and signed off", "004 Go-live readiness", false),
    gate(
        "critical-issues",
        "Critical open issues from the Solution Blueprint Review and other reviews mitigated",
        "004 Go-live readiness",
        false,
    ),
    gate(
        "collation",
        "The AX 2012 database uses the collation SQL_Latin1_General_CP1_CI_AS",
        "004 Upgrades from Dynamics AX 2012; 002",
        true,
    ),
    gate(
        "pre-upgrade-checklist",
        "Every pre-upgrade checklist step done on the source system",
        "004 Upgrades from Dynamics AX 2012; 003 step 1",
        true,
    ),
    gate(
        "attachments-in-blob-storage",
        "Documents and attachments stored in Azure Blob Storage",
        "004 Upgrades from Dynamics AX 2012",
        true,
    ),
    gate(
        "code-and-configuration-freeze",
        "Code and application configuration frozen in AX 2012; no code change since the mock cutover's sign-off",
        "004 Upgrades from Dynamics AX 2012; 003 Prerequisites",
        true,
    ),
    gate(
        "warehouse-mobile-app",
        "Warehouse mobile devices moved to the Dynamics 365 Warehouse Management mobile app",
        "004 Upgrades from Dynamics AX 2012",
        true,
    ),
    gate(
        "mock-cutover",
        "At least one successful mock cutover, signed off",
        "003 Go live (Cutover); Prerequisites",
        true,
    ),
];

/// The gate with this id.
pub fn find(id: &str) -> Option<&'static GateDef> {
    GATES.iter().find(|g| g.id == id)
}

/// Where a gate stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Met,
    NotMet,
    /// Does not apply to this project (e.g. no warehouse mobile devices).
    NotApplicable,
    /// Required, but the scenario does not say.
    NotAssessed,
}

impl Status {
    pub fn blocks(self) -> bool {
        matches!(self, Status::NotMet | Status::NotAssessed)
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::NotMet => "NOT MET",
            Status::NotApplicable => "n/a",
            Status::NotAssessed => "NOT ASSESSED",
        }
    }
}

/// One gate's state in a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateState {
    pub def: &'static GateDef,
    pub status: Status,
    pub owner: Option<String>,
    pub note: Option<String>,
}

/// The `[readiness]` section, validated: every required gate, in checklist
/// order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Readiness {
    pub ax2012: bool,
    pub gates: Vec<GateState>,
}

impl Readiness {
    /// The gates that block the go-live.
    pub fn unmet(&self) -> impl Iterator<Item = &GateState> {
        self.gates.iter().filter(|g| g.status.blocks())
    }

    pub fn go(&self) -> bool {
        self.unmet().next().is_none()
    }
}
