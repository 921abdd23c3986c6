//! Resuming a run that was killed: every page written to a document's outputs is also
//! kept, in order, as a record appended to `OUT/IN/.pagemill-resume/pages.log` (its result
//! and pictures as JSON, after its length). `--resume` replays the records into fresh
//! outputs, then converts the pages after them: the files come out byte for byte as an
//! uninterrupted run writes them, and the pages already done are not converted again.
//!
//! One log rather than a file a page: creating, renaming and deleting a file per page
//! made the file system's inode allocation the parent's largest cost on born-digital
//! documents (a third of the scheduler's CPU on the 2,415-page R-refman, measured with
//! perf). Each record goes to the log in one `write`, so a kill leaves whole records and
//! at most one cut short at the end — which `--resume` recognises by its length (or by
//! JSON that does not parse) and cuts off.
//!
//! Replaying rather than reopening the half-written outputs keeps the sinks simple: they
//! hold state between pages (a paragraph that runs across a page break, PDF object
//! offsets, the searchable PDF's glyph map) that would otherwise have to be saved too. The
//! cost is disk: about the size of the outputs again, until the document completes.
//!
//! A checkpoint belongs to one input and one set of options (its fingerprint); a resumed
//! run with another file or other options starts the document over. The checkpoint is
//! removed when its document completes, fails, or stops on Ctrl-C.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use pagemill_core::protocol::MAX_FRAME;
use pagemill_core::PageResult;

use crate::config::JobSpec;
use crate::inputs::Input;

/// Name of the checkpoint directory, under `OUT/IN/`.
pub const RESUME_DIR: &str = ".pagemill-resume";
const FINGERPRINT: &str = "fingerprint";
const LOG: &str = "pages.log";

/// The page records of one document.
#[derive(Debug)]
pub(crate) struct Checkpoint {
    dir: PathBuf,
    log: File,
}

/// Counts the whole records at the start of `log`, up to `limit`, and the bytes they take.
fn scan(log: &mut File, limit: u64) -> io::Result<(u64, u64)> {
    log.seek(SeekFrom::Start(0))?;
    let mut r = BufReader::new(&mut *log);
    let (mut records, mut end) = (0u64, 0u64);
    while records < limit {
        match read_record(&mut r) {
            Ok(Some((_, len))) => {
                records += 1;
                end += len;
            }
            Ok(None) | Err(_) => break,
        }
    }
    Ok((records, end))
}

/// Reads one record; `None` at a clean end. A record cut short or not parsing is an error.
fn read_record(r: &mut impl Read) -> io::Result<Option<(PageResult, u64)>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len);
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "record too long",
        ));
    }
    let mut body = vec![0u8; len as usize];
    r.read_exact(&mut body)?;
    let result = serde_json::from_slice(&body)?;
    Ok(Some((result, 4 + u64::from(len))))
}

impl Checkpoint {
    /// Opens the checkpoint of the document whose outputs go to `out_dir`. With `resume`
    /// and a checkpoint of the same `fingerprint`, its whole records are kept (a record
    /// cut short by the kill is cut off) and their number is returned; otherwise any old
    /// checkpoint is removed and a new one started.
    pub(crate) fn open(out_dir: &Path, fingerprint: &str, resume: bool) -> io::Result<(Self, u64)> {
        let dir = out_dir.join(RESUME_DIR);
        if resume {
            let same = fs::read_to_string(dir.join(FINGERPRINT)).is_ok_and(|f| f == fingerprint);
            if same {
                let mut log = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(dir.join(LOG))?;
                let (records, end) = scan(&mut log, u64::MAX)?;
                log.set_len(end)?;
                log.seek(SeekFrom::End(0))?;
                return Ok((Checkpoint { dir, log }, records));
            }
            if dir.exists() {
                tracing::warn!(
                    dir = %dir.display(),
                    "the checkpoint is of another file or other options; starting over"
                );
            }
        }
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir_all(&dir)?;
        write_atomically(&dir.join(FINGERPRINT), fingerprint.as_bytes())?;
        let log = File::create(dir.join(LOG))?;
        Ok((Checkpoint { dir, log }, 0))
    }

    /// Appends the next page written, in one `write`.
    pub(crate) fn write(&mut self, result: &PageResult) -> io::Result<()> {
        let mut record = vec![0u8; 4];
        serde_json::to_writer(&mut record, result)?;
        let len = u32::try_from(record.len() - 4)
            .ok()
            .filter(|&l| l <= MAX_FRAME)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "record too long"))?;
        record[..4].copy_from_slice(&len.to_le_bytes());
        self.log.write_all(&record)
    }

    /// The records kept, in order, for replaying; stops at the first that cannot be read.
    pub(crate) fn replay(&self) -> io::Result<impl Iterator<Item = PageResult>> {
        let mut r = BufReader::new(File::open(self.dir.join(LOG))?);
        Ok(std::iter::from_fn(move || {
            read_record(&mut r).ok().flatten().map(|(p, _)| p)
        }))
    }

    /// Forgets the records after the first `keep` (one that could not be replayed, and
    /// what follows).
    pub(crate) fn truncate(&mut self, keep: u64) -> io::Result<()> {
        let (_, end) = scan(&mut self.log, keep)?;
        self.log.set_len(end)?;
        self.log.seek(SeekFrom::End(0))?;
        Ok(())
    }

    /// Removes the checkpoint.
    pub(crate) fn remove(self) {
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(dir = %self.dir.display(), error = %e, "checkpoint not removed");
            }
        }
    }
}

/// How many whole page records the checkpoint under `out_dir` (a document's output
/// directory) holds: what `--resume` would replay.
pub fn resume_records(out_dir: &Path) -> io::Result<u64> {
    let mut log = File::open(out_dir.join(RESUME_DIR).join(LOG))?;
    Ok(scan(&mut log, u64::MAX)?.0)
}

/// What a checkpoint must match to be resumed: the file (path, size, modification
/// time) and every option that changes the outputs.
pub(crate) fn fingerprint(o: &JobSpec, input: &Input) -> String {
    let meta = std::fs::metadata(&input.path).ok();
    let modified = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos());
    format!(
        "pagemill {}\nfile {:?} {:?} {:?}\nformats {:?}\nocr {:?}\nerase {:?}\nupscale {:?}\npages {:?}\n\
         dpi layout {} figures {}\n",
        env!("CARGO_PKG_VERSION"),
        input.path,
        meta.map(|m| m.len()),
        modified,
        o.formats,
        o.ocr,
        o.erase,
        o.upscale,
        o.pages,
        o.layout_dpi,
        o.figure_dpi
    )
}

/// Writes `bytes` under a temporary name beside `path`, then renames it into place.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("part");
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagemill_core::model::{FailureReason, PageFailure};
    use pagemill_core::result::PagePreview;
    use pagemill_core::PageOutcome;

    fn failed(index: u32) -> PageOutcome {
        PageOutcome::Failed(PageFailure {
            index,
            reason: FailureReason::Timeout,
            message: "slow".into(),
        })
    }

    #[test]
    fn records_survive_for_the_same_fingerprint_only() {
        let out = tempfile::tempdir().unwrap();
        let (mut c, n) = Checkpoint::open(out.path(), "a", true).unwrap();
        assert_eq!(n, 0);
        for seq in 0..3 {
            let mut result = PageResult::bare(failed(seq));
            result.preview = Some(PagePreview {
                width: 1,
                height: 1,
                jpeg: vec![0xff, 0xd8],
            });
            c.write(&result).unwrap();
        }
        drop(c);
        assert_eq!(resume_records(out.path()).unwrap(), 3);
        let (mut c, n) = Checkpoint::open(out.path(), "a", true).unwrap();
        assert_eq!(n, 3);
        let replayed: Vec<PageResult> = c.replay().unwrap().collect();
        assert_eq!(replayed.len(), 3);
        assert_eq!(replayed[1].outcome, failed(1));
        assert_eq!(replayed[1].preview.as_ref().unwrap().jpeg, vec![0xff, 0xd8]);
        c.truncate(2).unwrap();
        c.write(&PageResult::bare(failed(9))).unwrap();
        drop(c);
        let (c, n) = Checkpoint::open(out.path(), "a", true).unwrap();
        assert_eq!(n, 3);
        assert_eq!(c.replay().unwrap().nth(2).unwrap().outcome, failed(9));
        // Other options, or no --resume: a fresh start.
        let (_, n) = Checkpoint::open(out.path(), "b", true).unwrap();
        assert_eq!(n, 0);
        let (c, n) = Checkpoint::open(out.path(), "b", false).unwrap();
        assert_eq!(n, 0);
        c.remove();
        assert!(!out.path().join(RESUME_DIR).exists());
    }

    #[test]
    fn a_record_cut_short_by_a_kill_is_cut_off() {
        let out = tempfile::tempdir().unwrap();
        let (mut c, _) = Checkpoint::open(out.path(), "a", true).unwrap();
        for seq in 0..2 {
            c.write(&PageResult::bare(failed(seq))).unwrap();
        }
        drop(c);
        // Half a third record, as a kill in the middle of a write would leave.
        let log = out.path().join(RESUME_DIR).join(LOG);
        let mut bytes = fs::read(&log).unwrap();
        let whole = bytes.len();
        bytes.extend_from_slice(&100u32.to_le_bytes());
        bytes.extend_from_slice(b"{\"outcome\":");
        fs::write(&log, &bytes).unwrap();
        let (mut c, n) = Checkpoint::open(out.path(), "a", true).unwrap();
        assert_eq!(n, 2);
        assert_eq!(fs::metadata(&log).unwrap().len() as usize, whole);
        c.write(&PageResult::bare(failed(2))).unwrap();
        assert_eq!(c.replay().unwrap().count(), 3);
    }
}
