//! Converted pages kept on disk for a second reader: the `headings` rule must see a whole
//! document's headings before it knows its sections, so the extraction cannot read the
//! pages as they convert. Rather than converting twice, the first pass writes each page
//! (one JSON line; no pictures are asked for) to a spool file beside its headings, and
//! the extraction then reads the spool through its page sink, in page order, in the same
//! memory as from the engine.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pagemill_core::result::PageResult;
use pagemill_core::sink::{DocumentMeta, PageSink, SinkError, SinkFactory};

/// A document whose pages were spooled completely.
#[derive(Debug, Clone)]
struct Spooled {
    meta: DocumentMeta,
    file: PathBuf,
}

/// Spools every document of a job into a folder, then replays them.
#[derive(Debug)]
pub struct PageSpool {
    dir: PathBuf,
    done: Arc<Mutex<HashMap<PathBuf, Spooled>>>,
}

impl PageSpool {
    /// A spool writing into `dir` (created if missing; the caller removes it).
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(PageSpool {
            dir: dir.to_path_buf(),
            done: Arc::default(),
        })
    }

    /// Feeds the spooled pages of the document at `path` (as the job named it) to a sink
    /// of `factory`, as the engine would: `begin`, each page, `finish`. `Ok(false)` when
    /// the document was not spooled completely (its conversion failed).
    pub fn replay(&self, path: &Path, factory: &dyn SinkFactory) -> Result<bool, SinkError> {
        let spooled = match self.done.lock() {
            Ok(done) => done.get(path).cloned(),
            Err(_) => None,
        };
        let Some(spooled) = spooled else {
            return Ok(false);
        };
        let Some(mut sink) = factory.create(&spooled.meta)? else {
            return Ok(true);
        };
        let result = (|| {
            sink.begin(&spooled.meta)?;
            for line in BufReader::new(File::open(&spooled.file)?).lines() {
                let page: PageResult = serde_json::from_str(&line?)
                    .map_err(|e| SinkError::Other(format!("spooled page: {e}")))?;
                sink.page(&page)?;
            }
            sink.finish()
        })();
        match result {
            Ok(_) => Ok(true),
            Err(e) => {
                sink.abort();
                Err(e)
            }
        }
    }
}

impl SinkFactory for PageSpool {
    fn create(&self, doc: &DocumentMeta) -> Result<Option<Box<dyn PageSink>>, SinkError> {
        let file = self.dir.join(format!("{}.pages.jsonl", doc.doc));
        Ok(Some(Box::new(SpoolSink {
            out: BufWriter::new(File::create(&file)?),
            spooled: Spooled {
                meta: doc.clone(),
                file,
            },
            done: Arc::clone(&self.done),
        })))
    }
}

struct SpoolSink {
    out: BufWriter<File>,
    spooled: Spooled,
    done: Arc<Mutex<HashMap<PathBuf, Spooled>>>,
}

impl PageSink for SpoolSink {
    fn begin(&mut self, _doc: &DocumentMeta) -> Result<(), SinkError> {
        Ok(())
    }

    fn page(&mut self, page: &PageResult) -> Result<(), SinkError> {
        serde_json::to_writer(&mut self.out, page)
            .map_err(|e| SinkError::Other(format!("spool: {e}")))?;
        self.out.write_all(b"\n")?;
        Ok(())
    }

    fn finish(&mut self) -> Result<Vec<PathBuf>, SinkError> {
        self.out.flush()?;
        if let Ok(mut done) = self.done.lock() {
            done.insert(self.spooled.meta.path.clone(), self.spooled.clone());
        }
        // A scratch file, not an output.
        Ok(Vec::new())
    }

    fn abort(&mut self) {
        let _ = std::fs::remove_file(&self.spooled.file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagemill_core::model::{DocInfo, Page, PageOutcome};

    /// Records what it is fed.
    #[derive(Default)]
    struct Recorder(Arc<Mutex<Vec<String>>>);

    impl SinkFactory for Recorder {
        fn create(&self, _doc: &DocumentMeta) -> Result<Option<Box<dyn PageSink>>, SinkError> {
            Ok(Some(Box::new(Recorder(Arc::clone(&self.0)))))
        }
    }

    impl PageSink for Recorder {
        fn begin(&mut self, doc: &DocumentMeta) -> Result<(), SinkError> {
            self.0.lock().unwrap().push(format!("begin {}", doc.stem));
            Ok(())
        }
        fn page(&mut self, page: &PageResult) -> Result<(), SinkError> {
            self.0
                .lock()
                .unwrap()
                .push(format!("page {}", page.outcome.index()));
            Ok(())
        }
        fn finish(&mut self) -> Result<Vec<PathBuf>, SinkError> {
            self.0.lock().unwrap().push("finish".into());
            Ok(Vec::new())
        }
    }

    fn meta() -> DocumentMeta {
        DocumentMeta {
            doc: 1,
            source: "a.pdf".into(),
            path: "/in/a.pdf".into(),
            stem: "a".into(),
            info: DocInfo {
                page_count: 2,
                pdf_version: None,
                title: None,
                kind: Default::default(),
            },
            pages: 2,
        }
    }

    #[test]
    fn a_spooled_document_replays_page_by_page_and_an_aborted_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let spool = PageSpool::new(dir.path()).unwrap();
        let mut sink = spool.create(&meta()).unwrap().unwrap();
        sink.begin(&meta()).unwrap();
        for index in 0..2 {
            let page = Page::new(index, 612.0, 792.0, Vec::new());
            sink.page(&PageResult::bare(PageOutcome::Ok(page))).unwrap();
        }
        sink.finish().unwrap();
        let seen = Recorder::default();
        assert!(spool.replay(Path::new("/in/a.pdf"), &seen).unwrap());
        assert_eq!(
            *seen.0.lock().unwrap(),
            vec!["begin a", "page 0", "page 1", "finish"]
        );

        let other = DocumentMeta {
            doc: 2,
            path: "/in/b.pdf".into(),
            ..meta()
        };
        let mut sink = spool.create(&other).unwrap().unwrap();
        sink.begin(&other).unwrap();
        sink.abort();
        assert!(!spool.replay(Path::new("/in/b.pdf"), &seen).unwrap());
    }
}
