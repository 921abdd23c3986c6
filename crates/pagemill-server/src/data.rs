//! The data directory: the job database, uploads being received, and each job's inputs
//! and outputs.
//!
//! ```text
//! DATA/pagemill.db          jobs, events, page errors (SQLite)
//! DATA/server-id            this service's name among others sharing a job ledger
//! DATA/uploads/ID/          an upload being received (removed at start-up: a crash's leftovers)
//! DATA/jobs/ID/input/       the job's files, once received whole
//! DATA/jobs/ID/output/      what the engine writes: output/<stem>/<stem>.md, …
//! DATA/indexes/             search indexes, per API key (see `indexes`)
//! ```

use std::io;
use std::path::{Path, PathBuf};

/// The data directory's layout.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The layout under `root` (nothing is created yet).
    pub fn new(root: PathBuf) -> Self {
        DataDir { root }
    }

    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates the folders, and removes uploads a previous process left half-received.
    pub fn prepare(&self) -> io::Result<()> {
        std::fs::create_dir_all(self.root.join("jobs"))?;
        let uploads = self.root.join("uploads");
        match std::fs::remove_dir_all(&uploads) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::fs::create_dir_all(&uploads)
    }

    /// The job database.
    pub fn database(&self) -> PathBuf {
        self.root.join("pagemill.db")
    }

    /// This service's name on a shared job ledger, made once per data directory so a
    /// restarted service is known as the one that stopped.
    pub fn server_id(&self) -> io::Result<String> {
        let path = self.root.join("server-id");
        match std::fs::read_to_string(&path) {
            Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_string()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        std::fs::write(&path, format!("{id}\n"))?;
        Ok(id)
    }

    /// The search indexes.
    pub fn indexes(&self) -> PathBuf {
        self.root.join("indexes")
    }

    /// Where upload `id` is received.
    pub fn staging(&self, id: &str) -> PathBuf {
        self.root.join("uploads").join(id)
    }

    /// Job `id`'s folder.
    pub fn job(&self, id: &str) -> PathBuf {
        self.root.join("jobs").join(id)
    }

    /// Job `id`'s input files.
    pub fn inputs(&self, id: &str) -> PathBuf {
        self.job(id).join("input")
    }

    /// Job `id`'s outputs.
    pub fn outputs(&self, id: &str) -> PathBuf {
        self.job(id).join("output")
    }

    /// The ids of the job folders present.
    pub fn job_ids(&self) -> io::Result<Vec<String>> {
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(self.root.join("jobs"))? {
            if let Some(name) = entry?.file_name().to_str() {
                ids.push(name.to_string());
            }
        }
        Ok(ids)
    }

    /// Removes job `id`'s files.
    pub fn remove_job(&self, id: &str) -> io::Result<()> {
        match std::fs::remove_dir_all(self.job(id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Bytes free on the data directory's file system.
    pub fn free_bytes(&self) -> Option<u64> {
        free_bytes(&self.root)
    }
}

/// Bytes available to unprivileged users on the file system holding `path`; `None` if
/// it cannot be read.
fn free_bytes(path: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(path).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}
