//! The only place that touches files: reading inputs with friendly errors, and writing outputs
//! whole or not at all (a temporary file in the same folder, renamed into place).

use super::{CliError, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Reads a UTF-8 text file, or says plainly why not.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| {
        CliError(format!(
            "cannot read {}: {}",
            path.display(),
            match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ => e.to_string(),
            }
        ))
    })?;
    String::from_utf8(bytes).map_err(|e| {
        CliError(format!(
            "{} is not UTF-8 text (invalid byte at offset {}); save it as UTF-8",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Creates the folder `dir` (and its parents) if needed; `what` names it in the error.
pub fn create_dir(dir: &Path, what: &str) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError(format!("cannot create {what} {}: {e}", dir.display())))
}

/// Writes `content` to `path` atomically: all of it, or nothing and the old file untouched.
pub fn write_atomic(path: &Path, content: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write(content)?;
    f.commit()
}

/// A file written in pieces and put in place whole: the pieces go to a temporary file in the
/// same folder, which [`AtomicFile::commit`] renames over `path`. Dropped without a commit
/// (an error on the way), the temporary file is removed and `path` is untouched.
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Creates the temporary file for `path`.
    pub fn create(path: &Path) -> Result<Self> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "out".into());
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::create(&tmp).map_err(|e| Self::fail(path, e))?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp,
            file: Some(BufWriter::with_capacity(1 << 16, file)),
        })
    }

    fn fail(path: &Path, e: std::io::Error) -> CliError {
        CliError(format!("cannot write {}: {e}", path.display()))
    }

    /// Appends `bytes`.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        match &mut self.file {
            Some(f) => f.write_all(bytes).map_err(|e| Self::fail(&self.path, e)),
            None => Ok(()),
        }
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> Result<()> {
        let Some(f) = self.file.take() else {
            return Ok(());
        };
        let result = (|| {
            let f = f.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&self.tmp, &self.path)
        })();
        result.map_err(|e| Self::fail(&self.path, e))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        // Not committed, or the commit failed before the rename: nothing is left behind.
        if self.tmp.exists() {
            self.file = None;
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Prints to standard output, or writes the file atomically.
pub fn emit(out: Option<&Path>, content: &str) -> Result<()> {
    match out {
        Some(p) => write_atomic(p, content.as_bytes()),
        None => {
            let mut o = std::io::stdout().lock();
            // A closed pipe (e.g. `| head`) is not an error worth reporting.
            let _ = o.write_all(content.as_bytes());
            let _ = o.flush();
            Ok(())
        }
    }
}
