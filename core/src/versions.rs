//! Releases, and whether moving between two of them needs the LCS code
//! upgrade service: the source/target tables of "Process for moving to the
//! latest update of Finance and Operations" (2018, `001_389be540215694af.txt`,
//! scenario 2) and of its 2017 predecessor (`000_d0c0a70ec39fbfb8.txt`), and,
//! for pairs neither table lists, the rule 001 states in prose.

use std::fmt;

use serde::Serialize;

/// A release, as the tables name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Version {
    Ax2012,
    /// February 2016 release (Application 7.0).
    Feb2016,
    /// May 2016 release (Platform update 1, Application 7.0.1).
    May2016,
    /// August 2016 release (Platform update 2, Application 7.0.1).
    Aug2016,
    /// Release 1611 (Platform update 3, Application 7.1).
    R1611,
    /// July 2017 release (Application 7.2).
    July2017,
    /// Application 7.3.
    App73,
    /// Application release 8.x, or 8.0 when told apart from 8.1.
    App8,
    /// Application release 8.1: an update from 8.0 (001: "If you are on
    /// application version 8.0 and want to move to the 8.1 release, follow
    /// the simplified steps"), still an "Application release 8.x" target
    /// for the tables.
    App81,
    /// A newer version of the platform only (no application release).
    Platform,
}

const NAMES: &[(Version, &[&str], &str)] = &[
    (Version::Ax2012, &["ax2012", "ax-2012", "ax 2012", "2012"], "Microsoft Dynamics AX 2012"),
    (Version::Feb2016, &["7.0", "feb-2016", "february-2016"], "February 2016 release (Application 7.0)"),
    (Version::May2016, &["7.0.1", "may-2016", "pu1"], "May 2016 release (Platform update 1, Application 7.0.1)"),
    (
        Version::Aug2016,
        &["7.0.1-pu2", "aug-2016", "august-2016", "pu2"],
        "August 2016 release (Platform update 2, Application 7.0.1)",
    ),
    (Version::R1611, &["7.1", "1611"], "Release 1611 (Platform update 3, Application 7.1)"),
    (Version::July2017, &["7.2", "july-2017"], "July 2017 release (Application 7.2)"),
    (Version::App73, &["7.3"], "Application 7.3"),
    (Version::App8, &["8.x", "8", "8.0"], "Application release 8.x"),
    (Version::App81, &["8.1"], "Application release 8.1"),
    (Version::Platform, &["platform", "platform-update"], "a newer version of the platform only"),
];

impl Version {
    /// Every release, oldest first (the platform-only target last).
    pub const ALL: [Version; 10] = [
        Version::Ax2012,
        Version::Feb2016,
        Version::May2016,
        Version::Aug2016,
        Version::R1611,
        Version::July2017,
        Version::App73,
        Version::App8,
        Version::App81,
        Version::Platform,
    ];

    /// Parses the names users write: `ax2012`, `7.0`, `7.0.1`, `7.0.1-pu2`,
    /// `7.1`/`1611`, `7.2`, `7.3`, `8.x`/`8.0`, `8.1`, `platform`, and the
    /// release names (`may-2016`, `july-2017`, ...). Case does not matter.
    ///
    /// # Errors
    /// [`UnknownRelease`], whose message lists the names it knows.
    pub fn parse(text: &str) -> Result<Version, UnknownRelease> {
        let t = text.trim().to_ascii_lowercase();
        NAMES
            .iter()
            .find(|(_, names, _)| names.contains(&t.as_str()))
            .map(|(v, _, _)| *v)
            .ok_or_else(|| UnknownRelease(text.to_string()))
    }

    /// The release as the documents name it.
    pub fn title(self) -> &'static str {
        NAMES.iter().find(|(v, _, _)| *v == self).map(|(_, _, t)| *t).expect("every version is named")
    }

    /// The short name `parse` takes first.
    pub fn id(self) -> &'static str {
        NAMES.iter().find(|(v, _, _)| *v == self).map(|(_, n, _)| n[0]).expect("every version is named")
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

/// One row of a source/target table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Row {
    /// `001` or `000`.
    pub document: &'static str,
    /// The row as published: source, target, answer.
    pub source: &'static str,
    pub target: &'static str,
    pub from: Version,
    pub to: &'static [Version],
    pub required: bool,
}

const NEW_APP_8_73_72_71: &[Version] =
    &[Version::App8, Version::App81, Version::App73, Version::July2017, Version::R1611];

/// The 2018 table (001), in its order.
pub const TABLE_001: &[Row] = &[
    Row {
        document: "001",
        source: "Application 7.3",
        target: "Application release 8.x",
        from: Version::App73,
        to: &[Version::App8, Version::App81],
        required: true,
    },
    Row {
        document: "001",
        source: "July 2017 release (Application 7.2)",
        target: "Application release 8.x or 7.3",
        from: Version::July2017,
        to: &[Version::App8, Version::App81, Version::App73],
        required: true,
    },
    Row {
        document: "001",
        source: "Release 1611 (Application 7.1)",
        target: "Application release 8.x, 7.3, or July 2017 (7.2)",
        from: Version::R1611,
        to: &[Version::App8, Version::App81, Version::App73, Version::July2017],
        required: true,
    },
    Row {
        document: "001",
        source: "August 2016 release (Application 7.0.1 with Platform update 2)",
        target: "Application release 8.x, 7.3, July 2017 (7.2) or 1611 (7.1)",
        from: Version::Aug2016,
        to: NEW_APP_8_73_72_71,
        required: true,
    },
    Row {
        document: "001",
        source: "May 2016 release (Application 7.0.1)",
        target: "Application release 8.x, 7.3, July 2017 (7.2) or 1611 (7.1)",
        from: Version::May2016,
        to: NEW_APP_8_73_72_71,
        required: true,
    },
    Row {
        document: "001",
        source: "February 2016 release (Application 7.0)",
        target: "Application release 8.x, 7.3, July 2017 (7.2) or 1611 (7.1)",
        from: Version::Feb2016,
        to: NEW_APP_8_73_72_71,
        required: true,
    },
    Row {
        document: "001",
        source: "Microsoft Dynamics AX 2012",
        target: "Application release 7.3 or July 2017 (7.2)",
        from: Version::Ax2012,
        to: &[Version::App73, Version::July2017],
        required: true,
    },
    Row {
        document: "001",
        source: "Application release 7.3",
        target: "Newer version of the platform",
        from: Version::App73,
        to: &[Version::Platform],
        required: false,
    },
    Row {
        document: "001",
        source: "July 2017 release (Application 7.2)",
        target: "Newer version of the platform",
        from: Version::July2017,
        to: &[Version::Platform],
        required: false,
    },
    Row {
        document: "001",
        source: "Release 1611 (application 7.1)",
        target: "Newer version of the platform",
        from: Version::R1611,
        to: &[Version::Platform],
        required: false,
    },
    Row {
        document: "001",
        source: "May 2016 release (Platform update 1, application 7.0.1)",
        target: "August 2016 release (Platform update 2, application 7.0.1)",
        from: Version::May2016,
        to: &[Version::Aug2016],
        required: false,
    },
];

/// The 2017 table (000), in its order.
pub const TABLE_000: &[Row] = &[
    Row {
        document: "000",
        source: "Microsoft Dynamics AX 2012",
        target: "Dynamics 365 for Operations",
        from: Version::Ax2012,
        to: &[Version::Feb2016, Version::May2016, Version::Aug2016, Version::R1611],
        required: true,
    },
    Row {
        document: "000",
        source: "Feb-16",
        target: "May 2016 (Platform update 1, Application 7.0.1)",
        from: Version::Feb2016,
        to: &[Version::May2016],
        required: true,
    },
    Row {
        document: "000",
        source: "Feb-16",
        target: "August 2016 (Platform update 2, Application 7.0.1)",
        from: Version::Feb2016,
        to: &[Version::Aug2016],
        required: true,
    },
    Row {
        document: "000",
        source: "May 2016 (Platform update 1, Application 7.0.1)",
        target: "August 2016 (Platform update 2, Application 7.0.1)",
        from: Version::May2016,
        to: &[Version::Aug2016],
        required: false,
    },
    Row {
        document: "000",
        source: "Feb-16",
        target: "Release 1611 (Platform update 3 or newer, Application 7.1.0)",
        from: Version::Feb2016,
        to: &[Version::R1611],
        required: true,
    },
    Row {
        document: "000",
        source: "May 2016 (Platform update 1, Application 7.0.1)",
        target: "Release 1611 (Platform update 3 or newer, Application 7.1.0)",
        from: Version::May2016,
        to: &[Version::R1611],
        required: true,
    },
    Row {
        document: "000",
        source: "August 2016 (Platform update 2, Application 7.0.1)",
        target: "Release 1611 (Platform update 3 or newer, Application 7.1.0)",
        from: Version::Aug2016,
        to: &[Version::R1611],
        required: true,
    },
    Row {
        document: "000",
        source: "Release 1611 (Platform update 3, Application 7.1.0)",
        target: "Newer version of the platform, like platform update 4",
        from: Version::R1611,
        to: &[Version::Platform],
        required: false,
    },
];

/// Why the answer is what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Basis {
    /// A row of a table.
    Row(Row),
    /// 001's definition: "Update – This is the process of applying a binary
    /// package to your environment to advance it from one official release
    /// of Finance and Operations to the next, starting with version 8.0.
    /// This involves drastically lower downtime requirements, and involves
    /// no Data Upgrade." (8.0 -> 8.1: no new environment, no code upgrade.)
    Update,
    /// The rule 001 states: "A code upgrade is required when you deploy new
    /// environments as part of the process of upgrading your application to
    /// a new major or cumulative release. A code upgrade isn't required for
    /// platform updates."
    Rule,
}

/// Whether the code upgrade service is needed, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Answer {
    pub from: Version,
    pub to: Version,
    pub required: bool,
    pub basis: Basis,
}

/// Does moving `from` -> `to` need the code upgrade service? The 2018 table
/// first, then the 2017 one, then 001's rule.
///
/// # Errors
/// [`UpgradeError`]: when `to` is not newer than `from`, `from` is the
/// platform-only target, or AX 2012 is to take a platform update.
pub fn code_upgrade(from: Version, to: Version) -> Result<Answer, UpgradeError> {
    if from == Version::Platform {
        return Err(UpgradeError::FromPlatform);
    }
    if let Some(row) = TABLE_001.iter().chain(TABLE_000).find(|r| r.from == from && r.to.contains(&to)) {
        return Ok(Answer { from, to, required: row.required, basis: Basis::Row(*row) });
    }
    if from == Version::App8 && to == Version::App81 {
        return Ok(Answer { from, to, required: false, basis: Basis::Update });
    }
    if to == Version::Platform {
        if from == Version::Ax2012 {
            return Err(UpgradeError::Ax2012Platform);
        }
        return Ok(Answer { from, to, required: false, basis: Basis::Rule });
    }
    if to <= from {
        return Err(UpgradeError::NotNewer { from, to });
    }
    Ok(Answer { from, to, required: true, basis: Basis::Rule })
}

/// A move [`code_upgrade`] cannot answer, because it is no upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UpgradeError {
    #[error("`platform` is a target (a newer platform only), not a release to upgrade from")]
    FromPlatform,
    #[error("AX 2012 has no platform update to finance and operations: it is an upgrade to a new application release")]
    Ax2012Platform,
    #[error("{} is not newer than {}: nothing to upgrade", .to.title(), .from.title())]
    NotNewer { from: Version, to: Version },
}

/// A release name [`Version::parse`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown release {0:?}; expected one of ax2012, 7.0, 7.0.1, 7.0.1-pu2, 7.1, 7.2, 7.3, 8.x (8.0), 8.1, platform, or a release name like may-2016, august-2016, 1611, july-2017"
)]
pub struct UnknownRelease(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for v in Version::ALL {
            assert_eq!(Version::parse(v.id()), Ok(v));
            assert_eq!(Version::parse(&v.id().to_uppercase()), Ok(v));
        }
        assert!(Version::parse("9.0").unwrap_err().to_string().contains("expected one of"));
    }

    #[test]
    fn the_rule_covers_what_the_tables_do_not_list() {
        let a = code_upgrade(Version::Ax2012, Version::App8).unwrap();
        assert_eq!((a.required, a.basis), (true, Basis::Rule));
        let a = code_upgrade(Version::App8, Version::Platform).unwrap();
        assert_eq!((a.required, a.basis), (false, Basis::Rule));
        assert_eq!(
            code_upgrade(Version::App73, Version::R1611).unwrap_err().to_string(),
            format!("{} is not newer than {}: nothing to upgrade", Version::R1611.title(), Version::App73.title())
        );
        assert_eq!(code_upgrade(Version::Platform, Version::App8), Err(UpgradeError::FromPlatform));
        assert_eq!(code_upgrade(Version::Ax2012, Version::Platform), Err(UpgradeError::Ax2012Platform));
    }

    #[test]
    fn eight_zero_to_eight_one_is_an_update() {
        let (from, to) = (Version::parse("8.0").unwrap(), Version::parse("8.1").unwrap());
        assert_eq!(code_upgrade(from, to), Ok(Answer { from, to, required: false, basis: Basis::Update }));
        // Not the other way, and 8.1 is still an "8.x" target of the tables.
        assert!(matches!(code_upgrade(to, from), Err(UpgradeError::NotNewer { .. })));
        let a = code_upgrade(Version::App73, to).unwrap();
        assert!(a.required && matches!(a.basis, Basis::Row(r) if r.target == "Application release 8.x"));
    }
}
