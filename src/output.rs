//! Writing output files: never half-written, never left private.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Writes `text` to `path` through a temporary file renamed over it once
/// complete.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot create a file in {}", dir.display()))?;
    tmp.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    persist(tmp, path)
}

/// Renames a finished temporary file over `path`, with the permissions of
/// the file it replaces or those of an ordinary new file (temporary files
/// are created private).
pub fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    tmp.as_file().sync_all().with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_or(0o644, |m| m.permissions().mode() & 0o777);
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    tmp.persist(path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Refuses an output path that names one of the command's inputs (the same
/// file, through a symbolic or hard link too) or another of its outputs:
/// writing it would replace what the command reads, or one output would
/// overwrite the other. Checked before any work, so nothing is touched.
///
/// `output` is the option and its path; `inputs` what each other path is
/// (e.g. `("the scenario", path)`).
pub fn refuse_clobbering(output: (&str, &Path), others: &[(&str, &Path)]) -> Result<()> {
    let (option, path) = output;
    for (what, other) in others {
        if same_file(path, other) {
            anyhow::bail!("{option} {}: that is {what}; refusing to overwrite it (name another file)", path.display());
        }
    }
    Ok(())
}

/// Whether two paths name one file: the same file on disk (links
/// resolved), or, for files not yet made, the same name in the same
/// directory.
fn same_file(a: &Path, b: &Path) -> bool {
    if same_file::is_same_file(a, b).unwrap_or(false) {
        return true;
    }
    let parent = |p: &Path| {
        let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        dir.canonicalize().ok()
    };
    a.file_name().is_some() && a.file_name() == b.file_name() && parent(a).is_some() && parent(a) == parent(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A path is refused when it is an input by another name: the same
    /// name, a `./` prefix, a symbolic link, a hard link; and for files
    /// not yet made, the same name in the same directory.
    #[test]
    fn an_output_that_is_an_input_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let plan = dir.path().join("plan.toml");
        std::fs::write(&plan, "x").expect("write");
        let other = dir.path().join("other.toml");
        std::fs::write(&other, "y").expect("write");
        let dotted = dir.path().join(".").join("plan.toml");
        let hard = dir.path().join("hard.toml");
        std::fs::hard_link(&plan, &hard).expect("hard link");
        let refused = |p: &Path| refuse_clobbering(("--db", p), &[("the scenario", &plan)]).is_err();
        assert!(refused(&plan));
        assert!(refused(&dotted));
        assert!(refused(&hard));
        #[cfg(unix)]
        {
            let soft = dir.path().join("soft.toml");
            std::os::unix::fs::symlink(&plan, &soft).expect("symlink");
            assert!(refused(&soft));
        }
        assert!(!refused(&other));
        assert!(!refused(&dir.path().join("new.sqlite")));
        // Two outputs not yet made, one name.
        let new = dir.path().join("new.out");
        let msg = refuse_clobbering(("--events", &new), &[("the --db store", &dir.path().join(".").join("new.out"))])
            .expect_err("refused")
            .to_string();
        assert!(msg.contains("--events") && msg.contains("the --db store"), "{msg}");
    }
}
