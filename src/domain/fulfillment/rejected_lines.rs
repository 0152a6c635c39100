//! The full list of a refused CSV upload's bad lines. The page lists the first [`SHOWN`]
//! (a file of a million bad lines must not make a page of 80 MB); the whole list is kept for
//! a day as a private CSV file under the data directory, named by a random token, and offered
//! as a download.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rand::RngCore;

use super::csv_import::LineError;
use crate::error::AppError;

/// How many bad lines the page lists.
pub const SHOWN: usize = 200;

/// How long a list is kept.
const KEEP: Duration = Duration::from_secs(24 * 60 * 60);

fn folder(data_dir: &Path) -> PathBuf {
    data_dir.join("rejected-uploads")
}

/// Writes every bad line to a private CSV file; returns the token that names it. Lists older
/// than a day are removed on the way.
pub fn save(data_dir: &Path, errors: &[LineError]) -> Result<String, AppError> {
    let dir = folder(data_dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| AppError::Internal(format!("cannot create {}: {e}", dir.display())))?;
    sweep(&dir);
    let mut raw = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let path = dir.join(format!("{token}.csv"));
    crate::private_files::create_if_missing(&path)?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .map_err(|e| AppError::Internal(format!("cannot write {}: {e}", path.display())))?;
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file));
    let write = |w: &mut csv::Writer<_>| -> Result<(), csv::Error> {
        w.write_record(["line", "problem"])?;
        for e in errors {
            w.write_record([e.line.to_string().as_str(), e.message.as_str()])?;
        }
        w.flush()?;
        Ok(())
    };
    write(&mut w).map_err(|e| AppError::Internal(format!("cannot write {}: {e}", path.display())))?;
    Ok(token)
}

/// The file a token names, when the token is one [`save`] makes and the list still exists.
pub fn find(data_dir: &Path, token: &str) -> Option<PathBuf> {
    let well_formed = token.len() == 32
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let path = folder(data_dir).join(format!("{token}.csv"));
    (well_formed && path.is_file()).then_some(path)
}

fn sweep(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > KEEP);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_list_is_found_by_its_token_only() {
        let dir = tempfile::tempdir().unwrap();
        let errors = vec![
            LineError {
                line: 2,
                message: "unknown order \"X, Y\"".into(),
            },
            LineError {
                line: 9,
                message: "bad".into(),
            },
        ];
        let token = save(dir.path(), &errors).unwrap();
        let path = find(dir.path(), &token).expect("found");
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(text, "line,problem\n2,\"unknown order \"\"X, Y\"\"\"\n9,bad\n");
        assert!(find(dir.path(), "../../etc/passwd").is_none());
        assert!(find(dir.path(), &"0".repeat(32)).is_none());
    }
}
