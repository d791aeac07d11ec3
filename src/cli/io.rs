//! The only place that touches files: reading inputs with friendly errors, and writing outputs
//! whole or not at all (a temporary file in the same folder, renamed into place).

use super::{CliError, Result};
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The temporary files of [`AtomicFile`]s being written now: what an interrupted run must
/// remove so that it leaves nothing behind.
static IN_FLIGHT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Folders made for the outputs of this run: an interrupted run removes them again when they
/// are empty (nothing of its own was kept in them).
static MADE_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The files this run read (as [`std::fs::canonicalize`] gives them): an output may not replace
/// one of them.
static INPUTS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The text of each file this run read, by the path it was given as: a file read twice (the
/// scenario by `validate` and its decision-tree check, say) is read once, so a pipe or fifo
/// gives the same text both times instead of nothing the second.
static READ: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());

/// The first error writing to standard output other than a closed pipe: the run then fails
/// (a script must not take a truncated statement for a whole one).
static STDOUT_FAILED: Mutex<Option<String>> = Mutex::new(None);

/// Whether a run's [`Outputs`] were put in place (an interrupt after that stops a run
/// whose files are complete).
static COMMITTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Exit status of a run stopped by Ctrl-C or a termination signal (128 + SIGINT).
pub const INTERRUPTED: i32 = 130;

/// On Ctrl-C (or SIGTERM), removes the temporary files of the outputs being written, says so and
/// exits with [`INTERRUPTED`]: an interrupted run leaves its outputs as they were before it
/// started, with no half-written or hidden temporary file. Called once, at start-up.
pub fn clean_up_on_interrupt() {
    // Only fails when a handler is already set (not done elsewhere); the run then goes on
    // without the clean-up rather than not at all.
    let _ = ctrlc::set_handler(|| {
        // The handler runs on its own thread, so it may wait for the lock; it keeps it to the
        // end, so no temporary file is made after it has removed those listed.
        let list = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
        let removed = list
            .iter()
            .filter(|p| std::fs::remove_file(p).is_ok())
            .count();
        if let Ok(dirs) = MADE_DIRS.lock() {
            remove_made_dirs(&dirs);
        }
        if std::io::stderr().is_terminal() {
            // End the progress line.
            eprintln!();
        }
        if COMMITTED.load(std::sync::atomic::Ordering::SeqCst) {
            eprintln!("interrupted after its outputs were written: they are complete and kept");
        } else if removed > 0 {
            eprintln!("interrupted: the outputs being written were not kept");
        } else {
            eprintln!("interrupted");
        }
        std::process::exit(INTERRUPTED);
    });
}

/// Creates the temporary file `tmp` with `create` and lists it in [`IN_FLIGHT`], under one
/// lock; a file not made is not listed (and nothing of it is left).
fn in_flight_create(
    tmp: &Path,
    create: impl FnOnce(&Path) -> std::io::Result<File>,
) -> std::io::Result<File> {
    let mut list = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
    let made = create(tmp);
    match &made {
        Ok(_) => list.push(tmp.to_path_buf()),
        Err(_) => {
            let _ = std::fs::remove_file(tmp);
        }
    }
    made
}

fn in_flight(f: impl FnOnce(&mut Vec<PathBuf>)) {
    // A poisoned lock only means another thread panicked while holding it; the list is fine.
    let mut list = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut list);
}

/// The memory available for new allocations, in bytes, where the system says (Linux:
/// `MemAvailable` in `/proc/meminfo`); `None` elsewhere.
pub fn memory_available() -> Option<u128> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// `bytes` in GB to at most one decimal, thousands separated (`240,000`, `1.3`).
fn gigabytes(bytes: u128) -> String {
    sibsim::chart::theme::number((bytes as f64 / 1e8).round() / 10.0)
}

/// Refuses a comparison whose per-trial records (`bytes`) would not fit in the memory
/// available, before it runs (rather than failing or being killed part way): `trials` trials
/// in each of the `runs` runs kept at once (the reference and those in flight, see
/// [`sibsim::design::runs_kept`]).
pub fn check_memory(bytes: u128, trials: u64, runs: u64) -> Result<()> {
    use sibsim::chart::theme::count;
    match memory_available() {
        Some(avail) if bytes > avail => Err(CliError(format!(
            "{} in each of the {} kept at once (the reference and those in flight) would keep about {} GB of per-trial values in memory, but about {} GB is available; use fewer --trials",
            count(trials, "trial", "trials"),
            count(runs, "run", "runs"),
            gigabytes(bytes),
            gigabytes(avail)
        ))),
        _ => Ok(()),
    }
}

/// Notes `path` as an input of this run, which no output may replace.
pub fn note_input(path: &Path) {
    if let Ok(real) = std::fs::canonicalize(path) {
        INPUTS.lock().unwrap_or_else(|e| e.into_inner()).push(real);
    }
}

/// The largest input file read: far above any contract, its actuals or a decision tree (a
/// scenario at the entry limits is a few MB), and a guard against a wrong path such as a
/// device that never ends or a multi-gigabyte `trials.csv`.
pub const MAX_INPUT_BYTES: u64 = 256 << 20;

/// Reads a UTF-8 text file, or says plainly why not. The file is noted as an input of this
/// run, which no output may replace. A file larger than [`MAX_INPUT_BYTES`] is refused after
/// reading one byte past the limit, never read in full.
pub fn read_text(path: &Path) -> Result<String> {
    if let Some((_, t)) = READ
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(p, _)| p == path)
    {
        return Ok(t.clone());
    }
    let text = read_text_once(path)?;
    READ.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((path.to_path_buf(), text.clone()));
    Ok(text)
}

/// [`read_text`] without the memory of what was read.
fn read_text_once(path: &Path) -> Result<String> {
    use std::io::Read;
    note_input(path);
    let cannot = |e: std::io::Error| {
        CliError(format!(
            "cannot read {}: {}",
            path.display(),
            match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                std::io::ErrorKind::IsADirectory => {
                    "it is a folder; give the path of a file in it".to_string()
                }
                _ => e.to_string(),
            }
        ))
    };
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(CliError(format!(
            "cannot read {}: it is larger than {} MiB, the most sibsim reads from an input \
             file (a scenario, actuals, decision tree, summary or statement); is it the right file?",
            path.display(),
            MAX_INPUT_BYTES >> 20
        )));
    }
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
    if dir.exists() && !dir.is_dir() {
        return Err(CliError(format!(
            "cannot create {what} {}: it is {}, not a folder; give the name of a folder",
            dir.display(),
            if dir.is_file() {
                "a file"
            } else {
                "a device, pipe or socket"
            }
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError(format!("cannot create {what} {}: {e}", dir.display())))
}

/// Where an output named `path` goes, or why it may not be written there: a link is followed
/// to its file; a folder, a device or pipe, a read-only file or one of this run's inputs is
/// refused; the folder must exist. Returns the file to replace and its permissions when it
/// exists (kept by the new file).
fn output_target(path: &Path) -> Result<(PathBuf, Option<std::fs::Permissions>)> {
    let refuse = |why: &str| Err(CliError(format!("cannot write {}: {why}", path.display())));
    let target = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => match std::fs::canonicalize(path) {
            Ok(t) => t,
            // A link to a pipe (`/dev/stdout` in a pipeline) has a target but no path.
            Err(_) if std::fs::metadata(path).is_ok() => {
                return refuse(
                    "it is not a regular file (a device, pipe or socket); give a file name, or leave --out out to write to standard output",
                );
            }
            Err(_) => {
                return refuse("it is a link to a file that does not exist; give the file itself");
            }
        },
        _ => path.to_path_buf(),
    };
    let perms = match std::fs::metadata(&target) {
        Ok(m) if m.is_dir() => return refuse("it is a folder; give a file name"),
        Ok(m) if !m.is_file() => {
            return refuse("it is not a regular file (a device, pipe or socket); give a file name");
        }
        Ok(m) if m.permissions().readonly() => {
            return refuse("the file is read-only; make it writable or choose another name");
        }
        Ok(m) => Some(m.permissions()),
        Err(_) => None,
    };
    if let Ok(real) = std::fs::canonicalize(&target)
        && INPUTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&real)
    {
        return refuse("it is one of this run's input files; choose another name for the output");
    }
    match target.parent() {
        Some(d) if !d.as_os_str().is_empty() && !d.is_dir() => {
            refuse(&format!("the folder {} does not exist", d.display()))
        }
        _ => Ok((target, perms)),
    }
}

/// Checks, before a long run, that an output file can be written at `path` (see
/// [`AtomicFile::create`]), so that no work is lost to a bad name at the end.
pub fn check_output_file(path: &Path) -> Result<()> {
    // Creating (and dropping) the temporary file proves the folder is writable.
    AtomicFile::create(path).map(drop)
}

/// Creates the output folder `dir` for this run and returns the folders it made, innermost
/// first (none when `dir` existed): they are removed again (where empty) when the run fails or
/// is interrupted, so a run that keeps nothing leaves nothing behind.
pub fn create_output_dir(dir: &Path, what: &str) -> Result<Vec<PathBuf>> {
    let made: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
        .map(Path::to_path_buf)
        .collect();
    create_dir(dir, what)?;
    MADE_DIRS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .extend(made.iter().cloned());
    Ok(made)
}

/// Removes the folders `made` (innermost first) where they are empty; others stay.
pub fn remove_made_dirs(made: &[PathBuf]) {
    for d in made {
        let _ = std::fs::remove_dir(d); // only if empty
    }
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
    /// Creates the temporary file for `path`. A link at `path` is followed, so the file it
    /// points to is replaced; an existing file keeps its permissions. Refused: a folder, a
    /// device or pipe, a read-only file, one of this run's inputs, a folder that does not exist.
    pub fn create(path: &Path) -> Result<Self> {
        let (target, perms) = output_target(path)?;
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "out".into());
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        remove_stale(&dir, &name);
        // Created and listed under one lock: an interrupt (which holds the lock to the end)
        // either finds the file listed or stops it being made.
        let file = in_flight_create(&tmp, |t| {
            File::create(t).and_then(|f| match perms {
                Some(p) => f.set_permissions(p).map(|()| f),
                None => Ok(f),
            })
        });
        let file = match file {
            Ok(f) => f,
            Err(e) => return Err(Self::fail(path, e)),
        };
        Ok(AtomicFile {
            path: target,
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

    /// Flushes and syncs what was written, so that a full disk is reported for this file
    /// before anything is put in place.
    pub fn flush(&mut self) -> Result<()> {
        match &mut self.file {
            Some(f) => f
                .flush()
                .and_then(|()| f.get_ref().sync_all())
                .map_err(|e| Self::fail(&self.path, e)),
            None => Ok(()),
        }
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> Result<()> {
        self.put_in_place()
    }

    /// [`AtomicFile::commit`] without giving the file up (its drop then finds nothing to
    /// remove).
    fn put_in_place(&mut self) -> Result<()> {
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

/// The outputs of one run, put in place together: each file is written whole to its temporary
/// file first ([`Outputs::stage`]), and all are renamed into place at the end
/// ([`Outputs::commit`]), with the interrupt handler held off for those renames. A run that
/// fails or is interrupted before then leaves every output as it was, with no temporary file,
/// and removes the folders it made for them (where they are empty).
#[derive(Default)]
pub struct Outputs {
    staged: Vec<AtomicFile>,
    made: Vec<PathBuf>,
    committed: bool,
}

impl Outputs {
    /// Makes the folder `dir` for outputs (see [`create_output_dir`]; `what` names it in an
    /// error) and checks that it takes new files, so that a folder that cannot is refused
    /// before the work rather than after it.
    pub fn folder(&mut self, dir: &Path, what: &str) -> Result<()> {
        let made = create_output_dir(dir, what)?;
        self.made.extend(made);
        let probe = dir.join(".sibsim-probe");
        match output_target(&probe) {
            Ok(_) => {
                let tmp = dir.join(format!(".sibsim-probe.tmp-{}", std::process::id()));
                let made = in_flight_create(&tmp, |t: &Path| File::create(t));
                let _ = std::fs::remove_file(&tmp);
                in_flight(|l| l.retain(|p| p != &tmp));
                made.map(drop).map_err(|e| {
                    CliError(format!("cannot write into {what} {}: {e}", dir.display()))
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Writes `bytes` whole to the temporary file of `path`, to be put in place by
    /// [`Outputs::commit`].
    pub fn stage(&mut self, path: &Path, bytes: &[u8]) -> Result<()> {
        let mut f = AtomicFile::create(path)?;
        f.write(bytes)?;
        self.stage_file(f)
    }

    /// Takes `f`, written in pieces, to be put in place by [`Outputs::commit`] (flushed and
    /// synced now, so that a full disk is reported before anything is put in place).
    pub fn stage_file(&mut self, mut f: AtomicFile) -> Result<()> {
        f.flush()?;
        self.staged.push(f);
        Ok(())
    }

    /// Puts every staged file in place. An interrupt waits until they all are; a rename that
    /// fails (a folder put in the way during the run) stops there, and the error names the
    /// file.
    pub fn commit(mut self) -> Result<()> {
        let mut result = Ok(());
        {
            let mut list = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
            let n = self.staged.len();
            for (k, f) in self.staged.iter_mut().enumerate() {
                if let Err(e) = f.put_in_place() {
                    result = Err(CliError(if k == 0 {
                        format!("{}; no output was written", e.0)
                    } else {
                        format!("{}; {k} of the {n} outputs were written before it", e.0)
                    }));
                    break;
                }
                list.retain(|p| p != &f.tmp);
            }
            if result.is_ok() {
                COMMITTED.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        if result.is_ok() {
            self.committed = true;
            let mut dirs = MADE_DIRS.lock().unwrap_or_else(|e| e.into_inner());
            dirs.retain(|d| !self.made.contains(d));
        }
        result
    }
}

/// Ends a run's writing: puts `outputs` in place when everything was staged (`staged`); when
/// not, none is, and the error says so.
pub fn put_in_place(outputs: Outputs, staged: Result<()>) -> Result<()> {
    match staged {
        Ok(()) => outputs.commit(),
        Err(e) => {
            drop(outputs);
            Err(CliError(format!("{}; no output was written", e.0)))
        }
    }
}

impl Drop for Outputs {
    fn drop(&mut self) {
        // The temporary files not put in place go first, then the folders they leave empty.
        self.staged.clear();
        if !self.committed {
            remove_made_dirs(&self.made);
        }
    }
}

/// Removes the temporary files `.NAME.tmp-PID` in `dir` that a run killed outright (which
/// no handler can catch) left behind: those of processes no longer running (Linux, where
/// `/proc` says which run; elsewhere nothing is removed).
fn remove_stale(dir: &Path, name: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name();
        let Some(pid) = file
            .to_str()
            .and_then(|f| f.strip_prefix(&prefix))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id()
            && !Path::new(&format!("/proc/{pid}")).exists()
            && e.file_type().is_ok_and(|t| t.is_file())
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        // Not committed, or the commit failed before the rename: nothing is left behind.
        if self.tmp.exists() {
            self.file = None;
            let _ = std::fs::remove_file(&self.tmp);
        }
        in_flight(|l| l.retain(|p| p != &self.tmp));
    }
}

/// `println!` that ignores a closed standard output (`sibsim validate ... | head -1`): the
/// standard macro panics there.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::io::print_out(&format!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use say;

/// Writes `text` to standard output. A closed pipe (`| head`) is not an error worth reporting;
/// any other failure (a full disk) is kept for [`stdout_failure`].
pub fn print_out(text: &str) {
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_all(text.as_bytes()).and_then(|()| o.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        let mut failed = STDOUT_FAILED.lock().unwrap_or_else(|e| e.into_inner());
        failed.get_or_insert_with(|| format!("cannot write to standard output: {e}"));
    }
}

/// The first failure to write standard output in this run (other than a closed pipe).
pub fn stdout_failure() -> Option<String> {
    STDOUT_FAILED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// Prints to standard output, or writes the file atomically.
pub fn emit(out: Option<&Path>, content: &str) -> Result<()> {
    match out {
        Some(p) => write_atomic(p, content.as_bytes()),
        None => {
            print_out(content);
            stdout_failure().map_or(Ok(()), |e| Err(CliError(e)))
        }
    }
}
