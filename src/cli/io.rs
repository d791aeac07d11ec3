//! The only place that touches files: reading inputs with friendly errors, and writing outputs
//! whole or not at all (a temporary file in the same folder, renamed into place).

use super::{CliError, Result};
use std::io::Write;
use std::path::Path;

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

/// Writes `content` to `path` atomically: all of it, or nothing and the old file untouched.
pub fn write_atomic(path: &Path, content: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let fail = |e: std::io::Error| CliError(format!("cannot write {}: {e}", path.display()));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(content)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    Ok(())
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
