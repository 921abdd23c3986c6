//! Section events: what the progress bar and `--progress json` show beside the engine's
//! page events.

use serde::Serialize;

/// Which section of which document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectionRef {
    /// The document as the user named it.
    pub document: String,
    /// The section's id.
    pub section: String,
}

/// Something that happened to a section.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SectionEvent {
    /// Its pages are converted and its first request is on its way.
    #[serde(rename = "section_sent")]
    Sent {
        /// The section.
        #[serde(flatten)]
        at: SectionRef,
        /// Parts it is sent in.
        parts: u32,
    },
    /// A request failed or its answer did not match; another follows.
    #[serde(rename = "section_retried")]
    Retried {
        /// The section.
        #[serde(flatten)]
        at: SectionRef,
        /// Requests made so far.
        attempt: u32,
        /// What went wrong.
        reason: String,
        /// Seconds waited before the next request.
        wait_s: f64,
    },
    /// Answered.
    #[serde(rename = "section_answered")]
    Answered {
        /// The section.
        #[serde(flatten)]
        at: SectionRef,
        /// Requests made.
        attempts: u32,
        /// Seconds it took.
        seconds: f64,
    },
    /// Given up on; the others go on.
    #[serde(rename = "section_failed")]
    Failed {
        /// The section.
        #[serde(flatten)]
        at: SectionRef,
        /// Requests made.
        attempts: u32,
        /// Why.
        error: String,
    },
    /// Answered by an earlier run with the same prompt, schema, model and text
    /// (`--resume`).
    #[serde(rename = "section_skipped")]
    Skipped {
        /// The section.
        #[serde(flatten)]
        at: SectionRef,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_flat_with_their_name() {
        let e = SectionEvent::Failed {
            at: SectionRef {
                document: "a.pdf".into(),
                section: "s2".into(),
            },
            attempts: 3,
            error: "x".into(),
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"event":"section_failed","document":"a.pdf","section":"s2","attempts":3,"error":"x"}"#
        );
    }
}
