//! Writing a fixed file: atomically (a temporary file in the same folder,
//! renamed over the original), keeping its permissions, through a symbolic
//! link to its target, and never over a file that changed since it was read.

use std::io::Write;
use std::path::Path;

use crate::discover::describe;

/// Replace `path`'s content, which must still be `expected`, by `content`.
pub fn replace(path: &Path, expected: &[u8], content: &[u8]) -> Result<(), String> {
    let target = std::fs::canonicalize(path)
        .map_err(|e| format!("cannot resolve the path: {}", describe(&e)))?;
    let metadata = std::fs::metadata(&target)
        .map_err(|e| format!("cannot read the file's metadata: {}", describe(&e)))?;
    if metadata.permissions().readonly() {
        return Err(
            "the file is read-only; it is left unchanged (make it writable to apply the fix)"
                .into(),
        );
    }
    let folder = target.parent().unwrap_or(Path::new("."));
    // Checked by mode bits, not by trying: as root the write would succeed.
    if std::fs::metadata(folder).is_ok_and(|m| m.permissions().readonly()) {
        return Err(format!(
            "its folder {} is read-only; the file is left unchanged (make the folder writable to apply the fix)",
            folder.display()
        ));
    }
    let mut temporary = tempfile::Builder::new()
        .prefix(".connfix-")
        .suffix(".tmp")
        .tempfile_in(folder)
        .map_err(|e| {
            format!(
                "cannot create a temporary file in {}: {}",
                folder.display(),
                describe(&e)
            )
        })?;
    temporary
        .write_all(content)
        .and_then(|()| temporary.as_file().sync_all())
        .map_err(|e| format!("cannot write the temporary file: {}", describe(&e)))?;
    std::fs::set_permissions(temporary.path(), metadata.permissions())
        .map_err(|e| format!("cannot copy the file's permissions: {}", describe(&e)))?;
    let now = std::fs::read(&target).map_err(|e| {
        format!(
            "cannot read the file again before writing: {}",
            describe(&e)
        )
    })?;
    if now != expected {
        return Err("the file changed while connfix was working on it; it is left as it is now (run connfix again)".into());
    }
    if crate::interrupt::requested() {
        return Err("interrupted; the file is left unchanged".into());
    }
    temporary
        .persist(&target)
        .map_err(|e| format!("cannot replace the file: {}", describe(&e.error)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_keeps_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.py");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o751)).unwrap();
        replace(&path, b"old", b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o751
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file is left behind"
        );
    }

    #[test]
    fn refuses_a_file_changed_since_it_was_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.py");
        std::fs::write(&path, "changed").unwrap();
        let error = replace(&path, b"old", b"new").unwrap_err();
        assert_eq!(
            error,
            "the file changed while connfix was working on it; it is left as it is now (run connfix again)"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"changed");
    }

    #[test]
    fn writes_through_a_symlink_to_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.py");
        let link = dir.path().join("link.py");
        std::fs::write(&target, "old").unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();
        replace(&link, b"old", b"new").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
    }
}
