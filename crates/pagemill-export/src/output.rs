//! Where a document's files go: the [`OutputLocation`] trait, and [`LocalDir`], which
//! writes under a temporary directory and moves everything into place only when the
//! document completes — so a run that dies never leaves a truncated file that looks
//! complete. An object store or an upload would be another implementation.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A file being written.
pub type OutputFile = BufWriter<Box<dyn Write + Send>>;

/// Name of the per-document temporary directory (under `OUT/IN/`).
pub const TMP_DIR: &str = ".pagemill-tmp";

/// Where the files of one document are written, and made visible at the end.
pub trait OutputLocation: Send + Sync {
    /// A new file, `name` relative to the document's place (`doc.md`, `images/0_1.jpg`).
    fn create(&self, name: &str) -> io::Result<OutputFile>;
    /// Drops a file created by mistake (a format that turned out not to apply).
    fn remove(&self, name: &str);
    /// Says that the directory `name` belongs to this document's outputs: whatever an
    /// earlier run left there is replaced at commit, even if nothing new goes in it.
    fn claim_dir(&self, name: &str);
    /// Everything written becomes visible, durably; returns where.
    fn commit(&self) -> io::Result<Vec<PathBuf>>;
    /// Nothing written stays.
    fn discard(&self);
}

/// Files in `OUT/IN/`, written under `OUT/IN/.pagemill-tmp/` first.
#[derive(Debug)]
pub struct LocalDir {
    dir: PathBuf,
    tmp: PathBuf,
    state: Mutex<LocalState>,
}

#[derive(Debug, Default)]
struct LocalState {
    /// Top-level names created, in order (a directory once).
    entries: Vec<String>,
    /// Directories claimed.
    claimed: Vec<String>,
    /// Committed or discarded.
    closed: bool,
}

impl LocalDir {
    /// Prepares `dir`: leftovers of an earlier run that was killed are removed first.
    pub fn create(dir: &Path) -> io::Result<Self> {
        let tmp = dir.join(TMP_DIR);
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir_all(&tmp)?;
        Ok(LocalDir {
            dir: dir.to_path_buf(),
            tmp,
            state: Mutex::new(LocalState::default()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LocalState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The first component of a relative name, if the name is a plain relative path (no
/// `..`, no root): only such names are written, so nothing lands outside the directory.
fn top_level(name: &str) -> Option<(&str, bool)> {
    let path = Path::new(name);
    let mut parts = path.components();
    let first = match parts.next()? {
        std::path::Component::Normal(p) => p.to_str()?,
        _ => return None,
    };
    let nested = parts.next().is_some();
    if path
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return None;
    }
    Some((first, nested))
}

impl OutputLocation for LocalDir {
    fn create(&self, name: &str) -> io::Result<OutputFile> {
        let Some((top, nested)) = top_level(name) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("output name {name:?} is not a plain relative path"),
            ));
        };
        let path = self.tmp.join(name);
        if nested {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
        }
        let file = File::create(&path)?;
        let mut state = self.state();
        if !state.entries.iter().any(|e| e == top) {
            state.entries.push(top.to_string());
        }
        let boxed: Box<dyn Write + Send> = Box::new(file);
        Ok(BufWriter::with_capacity(64 * 1024, boxed))
    }

    fn remove(&self, name: &str) {
        if top_level(name).is_some() {
            let _ = fs::remove_file(self.tmp.join(name));
            self.state().entries.retain(|e| e != name);
        }
    }

    fn claim_dir(&self, name: &str) {
        let mut state = self.state();
        if !state.claimed.iter().any(|c| c == name) {
            state.claimed.push(name.to_string());
        }
    }

    fn commit(&self) -> io::Result<Vec<PathBuf>> {
        let mut state = self.state();
        if state.closed {
            return Ok(Vec::new());
        }
        // Directories first (figure crops), then the files in the order they were made.
        let mut entries = state.entries.clone();
        entries.sort_by_key(|e| !self.tmp.join(e).is_dir());
        for dir in &state.claimed {
            // What an earlier run left would be referenced by nothing.
            let old = self.dir.join(dir);
            if old.is_dir() {
                fs::remove_dir_all(&old)?;
            }
        }
        let mut paths = Vec::new();
        for e in &entries {
            let from = self.tmp.join(e);
            if from.is_file() {
                // Durable before it becomes visible.
                File::open(&from)?.sync_data()?;
            }
            let to = self.dir.join(e);
            if to.is_dir() {
                fs::remove_dir_all(&to)?;
            }
            fs::rename(&from, &to)?;
            paths.push(to);
        }
        fs::remove_dir_all(&self.tmp)?;
        state.closed = true;
        Ok(paths)
    }

    fn discard(&self) {
        let mut state = self.state();
        if !state.closed {
            state.closed = true;
            let _ = fs::remove_dir_all(&self.tmp);
            // The document's own directory too, when nothing else is in it.
            let _ = fs::remove_dir(&self.dir);
        }
    }
}

impl Drop for LocalDir {
    /// A document that was neither committed nor discarded leaves nothing behind.
    fn drop(&mut self) {
        self.discard();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_appear_only_on_commit() {
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("doc");
        std::fs::create_dir_all(dir.join("images")).unwrap();
        std::fs::write(dir.join("images/old.jpg"), b"old").unwrap();
        let loc = LocalDir::create(&dir).unwrap();
        let mut md = loc.create("doc.md").unwrap();
        md.write_all(b"# hi\n").unwrap();
        md.flush().unwrap();
        drop(md);
        loc.create("images/0_0.jpg").unwrap().flush().unwrap();
        loc.claim_dir("images");
        assert!(loc.create("../escape").is_err());
        loc.create("doc.ocr.pdf").unwrap();
        loc.remove("doc.ocr.pdf");
        assert!(loc.create("/abs").is_err());
        assert!(
            !dir.join("doc.md").exists(),
            "nothing visible before commit"
        );
        let paths = loc.commit().unwrap();
        assert_eq!(paths, vec![dir.join("images"), dir.join("doc.md")]);
        assert_eq!(std::fs::read(dir.join("doc.md")).unwrap(), b"# hi\n");
        assert!(
            !dir.join("images/old.jpg").exists(),
            "an old run's crops are gone"
        );
        assert!(dir.join("images/0_0.jpg").exists());
        assert!(!dir.join(TMP_DIR).exists());
    }

    #[test]
    fn a_discarded_document_leaves_nothing() {
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("doc");
        {
            let loc = LocalDir::create(&dir).unwrap();
            loc.create("doc.md").unwrap().flush().unwrap();
        }
        assert!(!dir.exists());
    }
}
