//! `IN.sections.jsonl`: one line per section as it ends, read back by `--resume`.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// How a section ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// The endpoint answered (and the answer matched the schema, when one was given).
    Answered,
    /// It did not, after the retries; `error` says why.
    Failed,
}

/// One section's line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SectionRecord {
    /// The section's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its heading path.
    pub path: Vec<String>,
    /// Its pages, `3-9`.
    pub pages: String,
    /// How it ended.
    pub state: State,
    /// The answer: JSON when a schema was given (or the text parsed as JSON), else text.
    pub answer: Value,
    /// Requests made (retries included).
    pub attempts: u32,
    /// Parts it was sent in (1 unless longer than `--max-section-tokens`).
    pub parts: u32,
    /// Prompt tokens over all requests, as the endpoint counted them.
    pub tokens_in: u64,
    /// Answer tokens over all requests.
    pub tokens_out: u64,
    /// Seconds from the first request to the last answer.
    pub latency_s: f64,
    /// Why it failed.
    pub error: Option<String>,
    /// The section's Markdown, relative to the document's output directory.
    pub markdown: String,
    /// SHA-256 over prompt, schema, model and the section's text: `--resume` reuses an
    /// answer only when all four are unchanged.
    pub fingerprint: String,
}

/// The fingerprint of a request: what decides its answer.
pub fn fingerprint(
    prompt: &str,
    schema: Option<&Value>,
    model: &str,
    title: &str,
    markdown: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        prompt,
        &schema.map(|s| s.to_string()).unwrap_or_default(),
        model,
        title,
        markdown,
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The records in `path` by section id (the last line of an id wins); empty when the file
/// is missing. A torn last line (a crash mid-write) is skipped.
pub fn read_records(path: &Path) -> std::io::Result<HashMap<String, SectionRecord>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(e),
    };
    let mut out = HashMap::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        if let Ok(r) = serde_json::from_str::<SectionRecord>(&line) {
            out.insert(r.id.clone(), r);
        }
    }
    Ok(out)
}

/// Appends one record as a line and flushes it, so a finished section survives a crash.
pub fn append(out: &mut impl Write, record: &SectionRecord) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(record)?;
    line.push(b'\n');
    out.write_all(&line)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, state: State) -> SectionRecord {
        SectionRecord {
            id: id.into(),
            title: "T".into(),
            path: vec!["T".into()],
            pages: "1-2".into(),
            state,
            answer: Value::Null,
            attempts: 1,
            parts: 1,
            tokens_in: 0,
            tokens_out: 0,
            latency_s: 0.1,
            error: None,
            markdown: "x".into(),
            fingerprint: "f".into(),
        }
    }

    #[test]
    fn the_last_line_of_an_id_wins_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.sections.jsonl");
        let mut f = std::fs::File::create(&p).unwrap();
        append(&mut f, &record("s1", State::Failed)).unwrap();
        append(&mut f, &record("s2", State::Answered)).unwrap();
        append(&mut f, &record("s1", State::Answered)).unwrap();
        f.write_all(b"{\"id\": \"s3\", \"tit").unwrap();
        let r = read_records(&p).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r["s1"].state, State::Answered);
        assert!(read_records(&dir.path().join("none")).unwrap().is_empty());
    }

    #[test]
    fn the_fingerprint_changes_with_each_input() {
        let base = fingerprint("p", None, "m", "t", "md");
        assert_ne!(base, fingerprint("p2", None, "m", "t", "md"));
        assert_ne!(
            base,
            fingerprint("p", Some(&Value::Bool(true)), "m", "t", "md")
        );
        assert_ne!(base, fingerprint("p", None, "m2", "t", "md"));
        assert_ne!(base, fingerprint("p", None, "m", "t", "md2"));
        assert_ne!(
            fingerprint("ab", None, "", "", ""),
            fingerprint("a", None, "b", "", "")
        );
    }
}
