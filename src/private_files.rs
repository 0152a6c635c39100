//! Files only the portal's own user may read: the SQLite database with its WAL and SHM
//! (customer PII, INS payloads, password hashes) and the key files. They are created 0600,
//! and an existing install's looser files are tightened at start with a log line. (The
//! fulfillment export root keeps its own mode: a house's SFTP user reads it.)

use std::path::{Path, PathBuf};

use crate::error::AppError;

/// The mode of every private file.
#[cfg(unix)]
pub const MODE: u32 = 0o600;

/// Creates `path` empty with mode 0600 when it does not exist yet (an empty file is a new
/// SQLite database); an existing file is left to [`tighten`].
pub fn create_if_missing(path: &Path) -> Result<(), AppError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(MODE);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(AppError::Config(format!("cannot create {}: {e}", path.display()))),
    }
}

/// Sets mode 0600 on `path` when it exists and others or its group may read or write it;
/// logs each file it tightens. Returns whether it changed anything.
pub fn tighten(path: &Path) -> Result<bool, AppError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(AppError::Config(format!("cannot read {}: {e}", path.display()))),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 == 0 {
            return Ok(false);
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(MODE))
            .map_err(|e| AppError::Config(format!("cannot restrict {}: {e}", path.display())))?;
        tracing::warn!(
            file = %path.display(),
            was = format!("{mode:o}"),
            "tightened a private file to mode 600 (it was readable by other users)"
        );
        Ok(true)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(false)
    }
}

/// A SQLite database file and the WAL and SHM files SQLite keeps beside it.
pub fn sqlite_files(db: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        PathBuf::from(p)
    };
    [db.to_path_buf(), with("-wal"), with("-shm")]
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_files_are_private_and_loose_ones_are_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("fresh.db");
        create_if_missing(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o600, "a new private file is created 0600");

        let loose = dir.path().join("old.db");
        std::fs::write(&loose, b"").unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(tighten(&loose).unwrap(), "a 0644 file is tightened");
        assert_eq!(mode(&loose), 0o600);
        assert!(!tighten(&loose).unwrap(), "a 0600 file is left alone");
        assert!(!tighten(&dir.path().join("missing")).unwrap());
    }
}
