//! `[readiness]` (the go-live gates, as `readiness.rs` defines them) and
//! `[upgrade]` (the versions the plan moves between).

use std::collections::BTreeMap;

use toml::Spanned;

use super::Validator;
use crate::readiness::{GateState, Readiness, Status};
use crate::scenario::model::{Database, Upgrade};
use crate::scenario::raw::RawUpgrade;
use crate::scenario::suggest::suggest;

const EXPECTED: &str = "expected true (met), false (not met), \"n/a\" (does not apply) or { done = true, owner = \"...\", note = \"...\" }";

impl Validator<'_> {
    /// The `[readiness]` section: `ax2012 = true` to require the AX 2012
    /// gates, and each gate as `true`, `false`, `"n/a"` or a table
    /// `{ done = ..., owner = "...", note = "..." }`.
    pub(super) fn readiness(
        &mut self,
        raw: Option<Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
        db: &Database,
    ) -> Option<Option<Readiness>> {
        let Some(raw) = raw else { return Some(None) };
        let n_errors = self.diags.len();
        let raw = raw.into_inner();
        let ax2012 = self.ax2012(&raw);
        let mut given: BTreeMap<&str, GateState> = BTreeMap::new();
        for (key, v) in &raw {
            if key == "ax2012" {
                continue;
            }
            if let Some(state) = self.gate(key, v, db) {
                given.insert(state.def.id, state);
            }
        }
        if self.diags.len() > n_errors {
            return None;
        }
        let mut gates = Vec::new();
        for def in crate::readiness::GATES.iter().filter(|g| ax2012 || !g.ax2012) {
            let state = match given.remove(def.id) {
                Some(g) => g,
                None if def.id == "collation" => match &db.collation {
                    Some(c) if c.eq_ignore_ascii_case(crate::readiness::SUPPORTED_COLLATION) => GateState {
                        def,
                        status: Status::Met,
                        owner: None,
                        note: Some(format!("[database] collation = {c}")),
                    },
                    Some(c) => GateState {
                        def,
                        status: Status::NotMet,
                        owner: None,
                        note: Some(format!("[database] collation = {c}: contact Microsoft Support (002)")),
                    },
                    None => GateState { def, status: Status::NotAssessed, owner: None, note: None },
                },
                None => GateState { def, status: Status::NotAssessed, owner: None, note: None },
            };
            gates.push(state);
        }
        // AX 2012 gates given without `ax2012 = true` still count.
        gates.extend(given.into_values());
        Some(Some(Readiness { ax2012, gates }))
    }

    /// `ax2012 = true`: the AX 2012 gates apply.
    fn ax2012(&mut self, raw: &BTreeMap<String, Spanned<toml::Value>>) -> bool {
        match raw.get("ax2012") {
            None => false,
            Some(v) => match v.get_ref() {
                toml::Value::Boolean(b) => *b,
                other => {
                    self.error(
                        &v.span(),
                        None,
                        format!("readiness.ax2012 must be true or false, found {}", other.type_str()),
                    );
                    false
                }
            },
        }
    }

    /// One gate as the plan states it; `None` if it is not a gate, or not
    /// stated in a way that can be read (the error is reported).
    fn gate(&mut self, key: &str, v: &Spanned<toml::Value>, db: &Database) -> Option<GateState> {
        let ids: Vec<&str> = crate::readiness::GATES.iter().map(|g| g.id).collect();
        let Some(def) = crate::readiness::find(key) else {
            let hint = suggest(key, &ids).map(|s| format!("did you mean `{s}`? ")).unwrap_or_default();
            self.error(
                &v.span(),
                None,
                format!("unknown readiness gate `{key}`; {hint}the gates are: ax2012, {}", ids.join(", ")),
            );
            return None;
        };
        if def.id == "collation" && db.collation.is_some() {
            self.error(&v.span(), None, "the collation gate is checked from [database] collation; remove it here");
            return None;
        }
        let status = |v: &toml::Value| match v {
            toml::Value::Boolean(true) => Some(Status::Met),
            toml::Value::Boolean(false) => Some(Status::NotMet),
            toml::Value::String(s) if s == "n/a" => Some(Status::NotApplicable),
            _ => None,
        };
        let state = match v.get_ref() {
            toml::Value::Table(t) => {
                let mut ok = true;
                for k in t.keys() {
                    if !["done", "owner", "note"].contains(&k.as_str()) {
                        self.error(&v.span(), None, format!("readiness.{key}: unknown key `{k}`; {EXPECTED}"));
                        ok = false;
                    }
                }
                let done = t.get("done").and_then(status);
                let text = |k: &str| t.get(k).and_then(|x| x.as_str()).map(str::to_string);
                match done {
                    Some(st) if ok => GateState { def, status: st, owner: text("owner"), note: text("note") },
                    _ => {
                        if ok {
                            self.error(
                                &v.span(),
                                None,
                                format!("readiness.{key}: `done` is missing or not a status; {EXPECTED}"),
                            );
                        }
                        return None;
                    }
                }
            }
            other => match status(other) {
                Some(st) => GateState { def, status: st, owner: None, note: None },
                None => {
                    self.error(&v.span(), None, format!("readiness.{key} = {other}; {EXPECTED}"));
                    return None;
                }
            },
        };
        Some(state)
    }

    /// 002's collation rule, for every plan that upgrades from AX 2012
    /// (`[upgrade] from = "ax2012"` or `[readiness] ax2012 = true`): "The
    /// collation of the AX 2012 database must be
    /// SQL_Latin1_General_CP1_CI_AS. If you're using a different collation,
    /// contact Microsoft Support for assistance." A plan stating another
    /// collation is refused at it, in the catalogue's `wrong-collation`
    /// words: no run of it would get past the backup. `None` when refused.
    pub(super) fn collation(
        &mut self,
        db: &Database,
        span: Option<std::ops::Range<usize>>,
        upgrade: &Upgrade,
        readiness: Option<&Readiness>,
    ) -> Option<()> {
        let ax2012 = upgrade.from == Some(crate::versions::Version::Ax2012) || readiness.is_some_and(|r| r.ax2012);
        match (&db.collation, span) {
            (Some(c), Some(span)) if ax2012 && !c.eq_ignore_ascii_case(crate::readiness::SUPPORTED_COLLATION) => {
                let wording = crate::fault::catalog("wrong-collation").map_or("", |e| e.message);
                self.error(&span, None, format!("[database] collation = {c:?} in an upgrade from AX 2012: {wording} (002; fault `wrong-collation`)"));
                None
            }
            _ => Some(()),
        }
    }

    /// The `[upgrade]` section.
    pub(super) fn upgrade(&mut self, raw: Option<RawUpgrade>) -> Option<Upgrade> {
        let Some(raw) = raw else { return Some(Upgrade::default()) };
        let n_errors = self.diags.len();
        let mut version = |v: &Option<Spanned<String>>, what: &str| {
            v.as_ref().and_then(|v| match crate::versions::Version::parse(v.get_ref()) {
                Ok(x) => Some(x),
                Err(e) => {
                    self.error(&v.span(), None, format!("upgrade.{what}: {e}"));
                    None
                }
            })
        };
        let from = version(&raw.from, "from");
        let to = version(&raw.to, "to");
        let platform_only = raw.platform_only.unwrap_or(false);
        // 001, scenario 4: "If you're upgrading from Platform update 1 or
        // Platform update 2, your developers must refactor the overlayering
        // as extensions before you can upgrade." The plan says it has done
        // so with `customised_platform_models = false`.
        if let (Some(v), Some(span)) = (from, raw.from.as_ref().map(Spanned::span))
            && matches!(v, crate::versions::Version::May2016 | crate::versions::Version::Aug2016)
            && raw.customised_platform_models.as_ref().is_none_or(|c| *c.get_ref())
        {
            self.error(
                &span,
                None,
                format!(
                    "upgrade.from = {}: Platform update 1 and 2 enabled overlayering of platform X++ code, and \"your developers must refactor the overlayering as extensions before you can upgrade\" (001, scenario 4); once it is refactored, say so with customised_platform_models = false",
                    v.title()
                ),
            );
        }
        if let Some(c) = &raw.customised_platform_models
            && *c.get_ref()
            && platform_only
        {
            self.error(
                &c.span(),
                None,
                "a platform-only update is done in place only when the platform models (Application Platform, Application Foundation, Directory, Test Essentials) are not customised (000 and 001, scenario 4): refactor the overlayering or plan a full upgrade",
            );
        }
        if self.diags.len() > n_errors {
            return None;
        }
        Some(Upgrade { from, to, platform_only })
    }
}
