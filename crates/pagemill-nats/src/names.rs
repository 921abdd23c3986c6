//! Subjects, streams and buckets, all under one prefix, so several pagemill deployments
//! (or tenants) share a NATS server without seeing each other's work.

/// The names under a prefix (`pagemill` by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    prefix: String,
}

/// Why a prefix cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the NATS prefix {0:?} is not usable: use letters, digits, '-' and '_' (it names subjects, \
     streams and buckets)"
)]
pub struct BadPrefix(pub String);

impl Names {
    /// The names under `prefix`: letters, digits, `-` and `_` (stream and bucket names
    /// allow no more; a `.` would also split subjects).
    pub fn new(prefix: &str) -> Result<Self, BadPrefix> {
        let ok = !prefix.is_empty()
            && prefix.len() <= 32
            && prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(BadPrefix(prefix.to_string()));
        }
        Ok(Names {
            prefix: prefix.to_string(),
        })
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The work-queue stream of page tasks.
    pub fn work_stream(&self) -> String {
        format!("{}_WORK", self.prefix)
    }

    /// Subject of the tasks of one producer (`<prefix>.work.<producer>`).
    pub fn work_subject(&self, producer: &str) -> String {
        format!("{}.work.{producer}", self.prefix)
    }

    /// The durable pull consumer every worker host shares.
    pub fn work_consumer(&self) -> String {
        format!("{}_workers", self.prefix)
    }

    /// The stream answers go through.
    pub fn results_stream(&self) -> String {
        format!("{}_RESULTS", self.prefix)
    }

    /// Subject of the answers to one producer.
    pub fn results_subject(&self, producer: &str) -> String {
        format!("{}.res.{producer}", self.prefix)
    }

    /// The producer's own consumer of its answers.
    pub fn results_consumer(&self, producer: &str) -> String {
        format!("{}_res_{producer}", self.prefix)
    }

    /// Core-NATS subject of one producer's progress reports (lossy on purpose).
    pub fn progress_subject(&self, producer: &str) -> String {
        format!("{}.progress.{producer}", self.prefix)
    }

    /// Core-NATS subject producers announce on: a document closed, requests cancelled.
    pub fn control_subject(&self) -> String {
        format!("{}.control", self.prefix)
    }

    /// The object store bucket of documents.
    pub fn docs_bucket(&self) -> String {
        format!("{}_docs", self.prefix)
    }

    /// The object store bucket of answers too large for a message, and upscaled pages.
    pub fn results_bucket(&self) -> String {
        format!("{}_results", self.prefix)
    }

    /// The key-value bucket of the service's jobs (`serve --nats`): their state and
    /// progress, and which service runs each.
    pub fn jobs_bucket(&self) -> String {
        format!("{}_jobs", self.prefix)
    }

    /// The object store bucket of the service's uploads, kept until their job ends so
    /// another service can take the job up.
    pub fn uploads_bucket(&self) -> String {
        format!("{}_uploads", self.prefix)
    }

    /// The subject of the server's advisory for a task that reached its delivery limit.
    pub fn max_deliveries_advisory(&self) -> String {
        format!(
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{}.{}",
            self.work_stream(),
            self.work_consumer()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside_their_prefix() {
        let n = Names::new("team-a").unwrap();
        assert_eq!(n.work_stream(), "team-a_WORK");
        assert_eq!(n.work_subject("p1"), "team-a.work.p1");
        assert_eq!(n.docs_bucket(), "team-a_docs");
        assert_eq!(
            n.max_deliveries_advisory(),
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.team-a_WORK.team-a_workers"
        );
    }

    #[test]
    fn prefixes_that_would_break_subjects_are_refused() {
        for bad in ["", "a.b", "a b", "a*", "a>", "ü"] {
            assert!(Names::new(bad).is_err(), "{bad:?}");
        }
    }
}
