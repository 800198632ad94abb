//! Stage one: the scenario as serde reads it, every table closed to
//! unknown keys and every value that a message may point at kept with its
//! span. Nothing here is checked beyond its TOML type; `validate` does the
//! rest.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A whole scenario file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub(super) scenario: RawMeta,
    #[serde(default)]
    pub(super) database: Option<RawDatabase>,
    #[serde(default, rename = "step")]
    pub(super) steps: Vec<RawStep>,
    #[serde(default, rename = "fault")]
    pub(super) faults: Vec<RawFault>,
    #[serde(default)]
    pub(super) recovery: BTreeMap<String, RawPolicy>,
    #[serde(default)]
    pub(super) replication: Option<Spanned<RawReplication>>,
    #[serde(default)]
    pub(super) readiness: Option<Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
    #[serde(default)]
    pub(super) upgrade: Option<RawUpgrade>,
    #[serde(default, rename = "decision")]
    pub(super) decisions: Vec<Spanned<RawDecision>>,
}

/// `[[decision]]`: a go/no-go rule of the plan's own.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDecision {
    pub(super) step: Spanned<String>,
    pub(super) by: Spanned<toml::Value>,
    #[serde(rename = "else")]
    pub(super) otherwise: Spanned<String>,
}

/// `[upgrade]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUpgrade {
    #[serde(default)]
    pub(super) from: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) to: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) platform_only: Option<bool>,
    #[serde(default)]
    pub(super) customised_platform_models: Option<Spanned<bool>>,
}

/// `[replication]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReplication {
    #[serde(default)]
    pub(super) max_bcp_threads: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) publishers: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) snapshot_delay: Option<Spanned<toml::Value>>,
    pub(super) bcp_per_million_rows: Spanned<toml::Value>,
    pub(super) apply_per_million_changes: Spanned<toml::Value>,
    #[serde(default)]
    pub(super) resource_use: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) busy_slowdown: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) source_offline: Option<Spanned<String>>,
}

/// `[scenario]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMeta {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    pub(super) source: Option<String>,
    #[serde(default)]
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) window: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) window_confidence: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) start: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) downtime_begins_at: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) window_end: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) time_zone: Option<Spanned<String>>,
}

/// `[database]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDatabase {
    #[serde(default)]
    pub(super) size_gb: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) collation: Option<String>,
    #[serde(default)]
    pub(super) tables: Vec<RawTable>,
}

/// One entry of `[database] tables`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTable {
    pub(super) name: Spanned<String>,
    pub(super) rows: Spanned<i64>,
    #[serde(default)]
    pub(super) changes_per_hour: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) primary_key: Option<bool>,
}

/// `[[step]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    pub(super) id: Spanned<String>,
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) owner: Option<String>,
    #[serde(default)]
    pub(super) workstream: Option<String>,
    #[serde(default)]
    pub(super) parent: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) after: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) duration: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) per_gb: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) per_million_rows: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) rows_of: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) finish_lag: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) downtime: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) records_status: Option<Spanned<bool>>,
    #[serde(default)]
    pub(super) milestone: Option<bool>,
    #[serde(default)]
    pub(super) data: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) replication: Option<Spanned<String>>,
}

/// `[[fault]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFault {
    pub(super) id: Spanned<String>,
    #[serde(default)]
    pub(super) catalog: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) message: Option<String>,
    pub(super) steps: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) probability: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) at: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) persistent: Option<bool>,
    #[serde(default)]
    pub(super) outcome: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) recovery: Option<Spanned<String>>,
}

/// `[recovery.NAME]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    pub(super) action: Spanned<String>,
    #[serde(default)]
    pub(super) reaction: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) max_attempts: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) then: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) fix: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) duration: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) deadline: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) past_deadline: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) from: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) verify: Option<Spanned<toml::Value>>,
}
