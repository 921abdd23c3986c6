//! Resuming a run that was killed: every page written to a document's outputs is also
//! kept, in order, as a record under `OUT/IN/.pagemill-resume/` (its result and pictures,
//! one small file a page, each written under a temporary name and renamed, so a kill never
//! leaves a record that looks complete but is not). `--resume` replays the records into
//! fresh outputs, then converts the pages after them: the files come out byte for byte as
//! an uninterrupted run writes them, and the pages already done are not converted again.
//!
//! Replaying rather than reopening the half-written outputs keeps the sinks simple: they
//! hold state between pages (a paragraph that runs across a page break, PDF object
//! offsets, the searchable PDF's glyph map) that would otherwise have to be saved too. The
//! cost is disk: about the size of the outputs again, until the document completes.
//!
//! A checkpoint belongs to one input and one set of options (its fingerprint); a resumed
//! run with another file or other options starts the document over. The checkpoint is
//! removed when its document completes, fails, or stops on Ctrl-C.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use pagemill_core::PageResult;

use crate::config::JobSpec;
use crate::inputs::Input;

/// Name of the checkpoint directory, under `OUT/IN/`.
pub const RESUME_DIR: &str = ".pagemill-resume";
const FINGERPRINT: &str = "fingerprint";

/// The page records of one document.
#[derive(Debug)]
pub(crate) struct Checkpoint {
    dir: PathBuf,
}

impl Checkpoint {
    /// Opens the checkpoint of the document whose outputs go to `out_dir`. With `resume`
    /// and a checkpoint of the same `fingerprint`, its records are kept and their number
    /// is returned; otherwise any old checkpoint is removed and a new one started.
    pub(crate) fn open(out_dir: &Path, fingerprint: &str, resume: bool) -> io::Result<(Self, u64)> {
        let dir = out_dir.join(RESUME_DIR);
        let c = Checkpoint { dir };
        if resume {
            let same = fs::read_to_string(c.dir.join(FINGERPRINT)).is_ok_and(|f| f == fingerprint);
            if same {
                let mut n = 0;
                while c.path(n).is_file() {
                    n += 1;
                }
                return Ok((c, n));
            }
            if c.dir.exists() {
                tracing::warn!(
                    dir = %c.dir.display(),
                    "the checkpoint is of another file or other options; starting over"
                );
            }
        }
        if c.dir.exists() {
            fs::remove_dir_all(&c.dir)?;
        }
        fs::create_dir_all(&c.dir)?;
        write_atomically(&c.dir.join(FINGERPRINT), fingerprint.as_bytes())?;
        Ok((c, 0))
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:08}.json"))
    }

    /// Keeps page `seq` (0-based in the order pages are written).
    pub(crate) fn write(&self, seq: u64, result: &PageResult) -> io::Result<()> {
        write_atomically(&self.path(seq), &serde_json::to_vec(result)?)
    }

    /// Reads page `seq` back.
    pub(crate) fn read(&self, seq: u64) -> io::Result<PageResult> {
        Ok(serde_json::from_slice(&fs::read(self.path(seq))?)?)
    }

    /// Forgets records from `seq` on (one that could not be read, and what follows).
    pub(crate) fn truncate(&self, seq: u64) {
        let mut n = seq;
        while fs::remove_file(self.path(n)).is_ok() {
            n += 1;
        }
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
        "pagemill {}\nfile {:?} {:?} {:?}\nformats {:?}\nocr {:?}\nerase {:?}\npages {:?}\n\
         dpi layout {} figures {}\n",
        env!("CARGO_PKG_VERSION"),
        input.path,
        meta.map(|m| m.len()),
        modified,
        o.formats,
        o.ocr,
        o.erase,
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
        let (c, n) = Checkpoint::open(out.path(), "a", true).unwrap();
        assert_eq!(n, 0);
        for seq in 0..3 {
            let mut result = PageResult::bare(failed(seq as u32));
            result.preview = Some(PagePreview {
                width: 1,
                height: 1,
                jpeg: vec![0xff, 0xd8],
            });
            c.write(seq, &result).unwrap();
        }
        let (c, n) = Checkpoint::open(out.path(), "a", true).unwrap();
        assert_eq!(n, 3);
        let result = c.read(1).unwrap();
        assert_eq!(result.outcome, failed(1));
        assert_eq!(result.preview.unwrap().jpeg, vec![0xff, 0xd8]);
        c.truncate(2);
        let (_, n) = Checkpoint::open(out.path(), "a", true).unwrap();
        assert_eq!(n, 2);
        // Other options, or no --resume: a fresh start.
        let (_, n) = Checkpoint::open(out.path(), "b", true).unwrap();
        assert_eq!(n, 0);
        let (c, n) = Checkpoint::open(out.path(), "b", false).unwrap();
        assert_eq!(n, 0);
        c.remove();
        assert!(!out.path().join(RESUME_DIR).exists());
    }
}
