//! Writing output files: never half-written, never left private.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Writes `text` to `path` through a temporary file renamed over it once
/// complete.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let mut tmp = temp_beside(path)?;
    tmp.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    persist(tmp, path)
}

/// A temporary file beside `path`, to be renamed over it when complete.
/// It is named after `path` (`.NAME.rehearse-XXXXXX.tmp`) and locked while
/// in use, so that the leftovers of a killed run (a process killed cannot
/// remove its own) are told apart from another run's file in progress and
/// removed here, the next time anything is written to `path`.
pub fn temp_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let prefix = format!(".{name}.rehearse-");
    remove_leftovers(dir, &prefix);
    let tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    tmp.as_file().lock().with_context(|| format!("cannot lock {}", tmp.path().display()))?;
    Ok(tmp)
}

/// Removes the temporary files `PREFIX*.tmp` in `dir` that no process
/// holds (best effort: what cannot be read or removed is left).
fn remove_leftovers(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with(prefix) && name.ends_with(".tmp")) {
            continue;
        }
        let unheld = std::fs::File::open(entry.path()).is_ok_and(|f| f.try_lock().is_ok());
        if unheld {
            let _ = std::fs::remove_file(entry.path());
        }
    }
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
    /// A killed run's temporary file is removed by the next write to the
    /// same output; one still held by a running writer is left alone.
    #[test]
    fn leftovers_of_a_killed_run_are_removed_next_time() {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("run.jsonl");
        let stale = dir.path().join(".run.jsonl.rehearse-AbC123.tmp");
        std::fs::write(&stale, "half a log").expect("write");
        let held = dir.path().join(".run.jsonl.rehearse-XyZ789.tmp");
        std::fs::write(&held, "a log in progress").expect("write");
        let holder = std::fs::File::open(&held).expect("open");
        holder.lock().expect("lock");
        let other = dir.path().join(".other.jsonl.rehearse-AbC123.tmp");
        std::fs::write(&other, "another output's").expect("write");
        write_atomically(&out, "done\n").expect("written");
        assert_eq!(std::fs::read_to_string(&out).expect("read"), "done\n");
        assert!(!stale.exists(), "the killed run's leftover is removed");
        assert!(held.exists(), "a file in use is kept");
        assert!(other.exists(), "another output's file is kept");
        drop(holder);
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").flatten().map(|e| e.file_name()).collect();
        assert_eq!(left.len(), 3, "{left:?}");
    }

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
