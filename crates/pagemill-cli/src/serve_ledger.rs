//! `serve --nats`: the service's [`JobLedger`] is the NATS job board
//! ([`pagemill_nats::JobBoard`]); this adapter turns the service's job records into
//! postings and back.

use std::path::PathBuf;
use std::sync::Arc;

use pagemill_nats::board::Orphan;
use pagemill_nats::{BoardError, JobBoard, NatsOptions};
use pagemill_server::store::{JobRecord, JobState};
use pagemill_server::upload::safe_name;
use pagemill_server::{Adopted, JobLedger, LedgerError, LedgerFactory};

struct BoardLedger(JobBoard);

fn ledger_error(e: BoardError) -> LedgerError {
    match e {
        BoardError::Taken { id, by } => LedgerError::Taken { id, by },
        BoardError::Nats(e) => LedgerError::Unavailable(e.to_string()),
    }
}

fn to_value(job: &JobRecord) -> Result<serde_json::Value, LedgerError> {
    serde_json::to_value(job).map_err(|e| LedgerError::Unavailable(e.to_string()))
}

impl JobLedger for BoardLedger {
    fn post(&self, job: &JobRecord, inputs: &[PathBuf]) -> Result<(), LedgerError> {
        self.0
            .post(&job.id, to_value(job)?, inputs)
            .map_err(ledger_error)
    }

    fn update(&self, job: &JobRecord) -> Result<(), LedgerError> {
        let open = matches!(job.state, JobState::Queued | JobState::Running);
        self.0
            .update(&job.id, to_value(job)?, open, job.inputs.len())
            .map_err(ledger_error)
    }

    fn forget(&self, job_id: &str, files: usize) {
        self.0.forget(job_id, files);
    }

    fn heartbeat(&self) -> Result<(), LedgerError> {
        self.0.heartbeat().map_err(ledger_error)
    }

    fn adopt(
        &self,
        known: &dyn Fn(&str) -> bool,
        inputs: &dyn Fn(&str) -> PathBuf,
    ) -> Result<Vec<Adopted>, LedgerError> {
        let orphans = self.0.orphans().map_err(ledger_error)?;
        let mut adopted = Vec::new();
        for orphan in orphans.into_iter().filter(|o| !known(&o.id)) {
            if let Some(a) = self.take(orphan, inputs) {
                adopted.push(a);
            }
        }
        Ok(adopted)
    }
}

impl BoardLedger {
    fn take(&self, orphan: Orphan, inputs: &dyn Fn(&str) -> PathBuf) -> Option<Adopted> {
        let job: JobRecord = match serde_json::from_value(orphan.job.clone()) {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(job = %orphan.id, "a posting this version cannot read: {e}");
                return None;
            }
        };
        // A posting comes from the network, and its id and file names become paths here:
        // only what this service itself would have made is taken up.
        let plain_id = !job.id.is_empty()
            && job.id.len() <= 64
            && job.id.chars().all(|c| c.is_ascii_alphanumeric());
        let safe_names = job.inputs.iter().all(|n| safe_name(n) == *n);
        if job.id != orphan.id || !plain_id || !safe_names {
            tracing::warn!(job = %orphan.id, "a posting with an unsafe id or file names; left alone");
            return None;
        }
        let dir = inputs(&job.id);
        let paths: Vec<PathBuf> = job.inputs.iter().map(|n| dir.join(n)).collect();
        let lost_inputs = match self.0.claim(&orphan, &paths) {
            Ok(false) => return None,
            Ok(true) => None,
            Err(e) => Some(e.to_string()),
        };
        Some(Adopted {
            job,
            from: orphan.from,
            lost_inputs,
        })
    }
}

/// The ledger factory of `serve --nats`.
pub fn factory(options: NatsOptions) -> LedgerFactory {
    LedgerFactory(Arc::new(move |server: &str| {
        JobBoard::connect(&options, server)
            .map(|b| Arc::new(BoardLedger(b)) as Arc<dyn JobLedger>)
            .map_err(|e| e.to_string())
    }))
}
