//! What a run reports: per file, for the whole run, and as it goes.

use std::path::PathBuf;

use pagemill_core::protocol::DocInfo;
use pagemill_core::PageOutcome;

use crate::Input;

/// How one input file went.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    /// The input.
    pub path: PathBuf,
    /// Pages selected.
    pub pages: u32,
    /// Pages converted.
    pub ok: u32,
    /// Pages failed.
    pub failed: u32,
    /// Why the whole file failed (cannot open, cannot write), if it did.
    pub error: Option<String>,
    /// Files written.
    pub outputs: Vec<PathBuf>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// How the whole run went.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// One report per input file.
    pub files: Vec<FileReport>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Peak resident memory of the process tree (parent + workers), sampled.
    pub peak_rss: u64,
    /// Peak bytes held under the memory budget.
    pub budget_peak: u64,
    /// The run was stopped before the end (see [`ConvertOptions::stop`]).
    pub interrupted: bool,
}

impl RunSummary {
    /// Pages converted across all files.
    pub fn pages_ok(&self) -> u32 {
        self.files.iter().map(|f| f.ok).sum()
    }
    /// Pages failed across all files.
    pub fn pages_failed(&self) -> u32 {
        self.files.iter().map(|f| f.failed).sum()
    }
    /// Files that could not be converted at all.
    pub fn files_failed(&self) -> usize {
        self.files.iter().filter(|f| f.error.is_some()).count()
    }
}

/// Progress, reported to the caller as it happens.
#[derive(Debug)]
pub enum Event<'a> {
    /// A document opened; `pages` will be converted.
    FileStarted {
        /// The input.
        input: &'a Input,
        /// Facts about the document.
        info: &'a DocInfo,
        /// Pages selected.
        pages: u32,
    },
    /// A page was written (converted or failed).
    Page {
        /// The input.
        input: &'a Input,
        /// The page.
        outcome: &'a PageOutcome,
    },
    /// A document is complete (or failed as a whole: see `report.error`).
    FileFinished {
        /// The input.
        input: &'a Input,
        /// The outcome.
        report: &'a FileReport,
    },
    /// Periodic sample of the process tree's memory.
    Tick {
        /// Current resident bytes of parent + workers.
        rss: u64,
        /// Peak so far.
        peak_rss: u64,
    },
}
