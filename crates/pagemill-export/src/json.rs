//! `IN.json`: the document as JSON, streamed. The schema is documented in
//! `docs/json-schema.md`; its name and version is [`JSON_SCHEMA`].
//!
//! ```json
//! {"schema": "pagemill.document/1", "source": "in.pdf", "info": {...},
//!  "pages": [ {page}, {page}, ... ],
//!  "summary": {"pages": 10, "ok": 9, "failed": 1}}
//! ```

use std::io::{self, Write};

use pagemill_core::model::DocInfo;
use pagemill_core::PageOutcome;
use serde::Serialize;

/// Schema name and version written at the top of every JSON file.
pub const JSON_SCHEMA: &str = "pagemill.document/1";

/// Counts written at the end of the JSON.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct DocumentSummary {
    /// Pages selected for conversion.
    pub pages: u32,
    /// Pages converted.
    pub ok: u32,
    /// Pages that failed (each is in `pages` with `"status": "failed"`).
    pub failed: u32,
}

/// Writes the JSON document page by page.
pub struct JsonWriter<W: Write> {
    out: W,
    pages: u32,
}

impl<W: Write> JsonWriter<W> {
    /// Starts the document: writes everything before the first page.
    pub fn new(mut out: W, source: &str, info: &DocInfo) -> io::Result<Self> {
        write!(
            out,
            "{{\"schema\":{},\"source\":{},\"info\":{},\"pages\":[",
            serde_json::to_string(JSON_SCHEMA)?,
            serde_json::to_string(source)?,
            serde_json::to_string(info)?
        )?;
        Ok(JsonWriter { out, pages: 0 })
    }

    /// Writes one page.
    pub fn page(&mut self, outcome: &PageOutcome) -> io::Result<()> {
        self.out
            .write_all(if self.pages == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut self.out, outcome)?;
        self.pages += 1;
        Ok(())
    }

    /// Closes the page list and writes the summary.
    pub fn finish(mut self, summary: &DocumentSummary) -> io::Result<W> {
        write!(
            self.out,
            "\n],\"summary\":{}}}\n",
            serde_json::to_string(summary)?
        )?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagemill_core::model::{FailureReason, PageFailure};

    #[test]
    fn streamed_json_is_one_valid_document() {
        let info = DocInfo {
            page_count: 2,
            pdf_version: Some("1.4".into()),
            title: Some("T \"q\"".into()),
            kind: Default::default(),
        };
        let mut w = JsonWriter::new(Vec::new(), "a/b.pdf", &info).unwrap();
        for i in 0..2 {
            w.page(&PageOutcome::Failed(PageFailure {
                index: i,
                reason: FailureReason::Invalid,
                message: "x".into(),
            }))
            .unwrap();
        }
        let bytes = w
            .finish(&DocumentSummary {
                pages: 2,
                ok: 0,
                failed: 2,
            })
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["schema"], JSON_SCHEMA);
        assert_eq!(v["info"]["title"], "T \"q\"");
        assert_eq!(v["pages"].as_array().unwrap().len(), 2);
        assert_eq!(v["pages"][1]["status"], "failed");
        assert_eq!(v["summary"]["failed"], 2);
    }
}
