//! The extraction of a run: a page sink that assembles each section's Markdown as its
//! pages arrive, and LLM threads that ask about finished sections while later pages are
//! still converting.
//!
//! Bounded: finished sections wait in a queue of one per LLM thread; when it is full the
//! sink waits, and the engine's reorder window fills behind it (backpressure, as for the
//! index). A sink holds only the Markdown of the sections open at the current page.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use pagemill_core::model::PageOutcome;
use pagemill_core::result::PageResult;
use pagemill_core::sink::{DocumentMeta, PageSink, SinkError, SinkFactory};
use pagemill_export::MarkdownWriter;
use pagemill_sections::Section;
use serde_json::Value;

use crate::ask::{ask_section, AskConfig, SectionTask};
use crate::events::{SectionEvent, SectionRef};
use crate::llm::Client;
use crate::record::{self, SectionRecord, State};

/// One document's sections and where their results go.
#[derive(Debug, Clone)]
pub struct DocPlan {
    /// The file as the job names it.
    pub path: PathBuf,
    /// The document as the user named it (events, prompts).
    pub document: String,
    /// Its output directory, `OUT/<stem>/`.
    pub out_dir: PathBuf,
    /// Its output name.
    pub stem: String,
    /// Its sections, in page order.
    pub sections: Vec<Section>,
}

impl DocPlan {
    /// `OUT/<stem>/<stem>.sections.jsonl`.
    pub fn records_path(&self) -> PathBuf {
        self.out_dir.join(format!("{}.sections.jsonl", self.stem))
    }

    /// The section Markdown's path relative to the output directory.
    fn markdown_file(&self, id: &str) -> String {
        format!("{}.sections/{id}.md", self.stem)
    }
}

/// Counts of a run's sections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtractSummary {
    /// Answered in this run.
    pub answered: u32,
    /// Failed in this run.
    pub failed: u32,
    /// Answered by an earlier run and kept (`--resume`).
    pub skipped: u32,
}

type EventFn = dyn Fn(SectionEvent) + Send + Sync;

struct DocState {
    plan: DocPlan,
    previous: HashMap<String, SectionRecord>,
    out: Mutex<Option<File>>,
}

impl DocState {
    fn write(&self, record: &SectionRecord) -> std::io::Result<()> {
        let mut out = self
            .out
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        if out.is_none() {
            std::fs::create_dir_all(&self.plan.out_dir)?;
            *out = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.plan.records_path())?,
            );
        }
        match out.as_mut() {
            Some(f) => record::append(f, record),
            None => Ok(()),
        }
    }
}

struct Work {
    doc: Arc<DocState>,
    task: SectionTask,
}

struct Shared {
    queue: Mutex<Option<SyncSender<Work>>>,
    docs: HashMap<PathBuf, Arc<DocState>>,
    ask: AskConfig,
    model: String,
    resume: bool,
    on_event: Box<EventFn>,
    summary: Mutex<ExtractSummary>,
}

impl Shared {
    fn count(&self, f: impl FnOnce(&mut ExtractSummary)) {
        if let Ok(mut s) = self.summary.lock() {
            f(&mut s);
        }
    }

    fn record(&self, doc: &DocState, record: &SectionRecord) {
        if let Err(e) = doc.write(record) {
            tracing::error!(document = %doc.plan.document, error = %e, "cannot write the section's record");
        }
        self.count(|s| match record.state {
            State::Answered => s.answered += 1,
            State::Failed => s.failed += 1,
        });
    }
}

/// A run's extraction: its sink factory, its LLM threads, its records.
pub struct Extractor {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

/// How an extraction runs.
pub struct ExtractOptions {
    /// Requests in flight at once (LLM threads).
    pub concurrency: usize,
    /// Reuse answers of an earlier run with the same fingerprint.
    pub resume: bool,
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

impl Extractor {
    /// Starts `options.concurrency` LLM threads asking through `client`. Without
    /// `resume`, earlier records of these documents are discarded.
    pub fn new(
        plans: Vec<DocPlan>,
        client: Client,
        ask: AskConfig,
        options: ExtractOptions,
        on_event: Box<EventFn>,
    ) -> std::io::Result<Extractor> {
        let mut docs = HashMap::new();
        for plan in plans {
            let path = plan.records_path();
            let previous = if options.resume {
                record::read_records(&path)?
            } else {
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                    _ => HashMap::new(),
                }
            };
            docs.insert(
                canonical(&plan.path),
                Arc::new(DocState {
                    plan,
                    previous,
                    out: Mutex::new(None),
                }),
            );
        }
        let threads = options.concurrency.max(1);
        let (tx, rx) = sync_channel::<Work>(threads);
        let shared = Arc::new(Shared {
            queue: Mutex::new(Some(tx)),
            docs,
            model: client.endpoint().model.clone(),
            ask,
            resume: options.resume,
            on_event,
            summary: Mutex::new(ExtractSummary::default()),
        });
        let rx = Arc::new(Mutex::new(rx));
        let handles = (0..threads)
            .map(|i| {
                let (shared, rx, client) = (Arc::clone(&shared), Arc::clone(&rx), client.clone());
                std::thread::Builder::new()
                    .name(format!("pagemill-llm-{i}"))
                    .spawn(move || llm_thread(&shared, &rx, &client))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Extractor {
            shared,
            threads: handles,
        })
    }

    /// The page sink to hand to the conversion job.
    pub fn sink_factory(&self) -> Arc<dyn SinkFactory> {
        Arc::new(ExtractSinks {
            shared: Arc::clone(&self.shared),
        })
    }

    /// Waits for the sections in flight, then rewrites each document's records as one
    /// line per section in section order.
    pub fn finish(mut self) -> std::io::Result<ExtractSummary> {
        if let Ok(mut q) = self.shared.queue.lock() {
            q.take();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        for doc in self.shared.docs.values() {
            if let Ok(mut out) = doc.out.lock() {
                out.take();
            }
            compact(&doc.plan)?;
        }
        Ok(self.shared.summary.lock().map(|s| *s).unwrap_or_default())
    }
}

fn llm_thread(shared: &Shared, rx: &Mutex<Receiver<Work>>, client: &Client) {
    loop {
        let next = match rx.lock() {
            Ok(r) => r.recv(),
            Err(_) => return,
        };
        let Ok(Work { doc, task }) = next else { return };
        let record = ask_section(client, &shared.ask, &task, &*shared.on_event);
        shared.record(&doc, &record);
    }
}

/// Rewrites the records file in section order, one line each (the last record of each
/// section), through a temporary file renamed into place.
fn compact(plan: &DocPlan) -> std::io::Result<()> {
    let path = plan.records_path();
    let records = record::read_records(&path)?;
    if records.is_empty() {
        return Ok(());
    }
    let tmp = path.with_extension("jsonl.tmp");
    {
        let mut out = std::io::BufWriter::new(File::create(&tmp)?);
        for s in &plan.sections {
            if let Some(r) = records.get(&s.id) {
                record::append(&mut out, r)?;
            }
        }
        out.flush()?;
    }
    std::fs::rename(&tmp, &path)
}

struct ExtractSinks {
    shared: Arc<Shared>,
}

impl SinkFactory for ExtractSinks {
    fn create(&self, doc: &DocumentMeta) -> Result<Option<Box<dyn PageSink>>, SinkError> {
        let Some(state) = self.shared.docs.get(&canonical(&doc.path)) else {
            return Ok(None);
        };
        Ok(Some(Box::new(SectionSink {
            shared: Arc::clone(&self.shared),
            doc: Arc::clone(state),
            next: 0,
            open: Vec::new(),
            done: HashSet::new(),
        })))
    }
}

/// Assembles one document's sections.
struct SectionSink {
    shared: Arc<Shared>,
    doc: Arc<DocState>,
    /// Index of the next section not yet opened.
    next: usize,
    /// Sections whose pages are arriving, with their Markdown so far.
    open: Vec<(usize, MarkdownWriter<Vec<u8>>)>,
    /// Sections handed on (asked, skipped or failed).
    done: HashSet<usize>,
}

fn sink_err(e: impl std::fmt::Display) -> SinkError {
    SinkError::Other(format!("extract: {e}"))
}

impl SectionSink {
    fn sections(&self) -> &[Section] {
        &self.doc.plan.sections
    }

    /// A section's pages are all here: write its Markdown, then ask, or reuse an answer.
    fn close(&mut self, k: usize, writer: MarkdownWriter<Vec<u8>>) -> Result<(), SinkError> {
        self.done.insert(k);
        let markdown = String::from_utf8_lossy(&writer.finish()?).into_owned();
        let plan = &self.doc.plan;
        let s = &self.sections()[k];
        let file = plan.markdown_file(&s.id);
        let full = plan.out_dir.join(&file);
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&full, &markdown)?;
        let ask = &self.shared.ask;
        let fingerprint = record::fingerprint(
            ask.template.text(),
            ask.schema.as_ref().map(|s| s.raw()),
            &self.shared.model,
            &s.title,
            &markdown,
        );
        let at = SectionRef {
            document: plan.document.clone(),
            section: s.id.clone(),
        };
        if self.shared.resume {
            if let Some(prev) = self.doc.previous.get(&s.id) {
                if prev.state == State::Answered && prev.fingerprint == fingerprint {
                    // Written again so the record survives into this run's file.
                    self.doc.write(prev).map_err(sink_err)?;
                    self.shared.count(|c| c.skipped += 1);
                    (self.shared.on_event)(SectionEvent::Skipped { at });
                    return Ok(());
                }
            }
        }
        let task = SectionTask {
            at,
            title: s.title.clone(),
            path: s.path.clone(),
            pages: s.pages(),
            markdown,
            markdown_file: file,
            fingerprint,
        };
        let queue = self
            .shared
            .queue
            .lock()
            .map_err(|_| sink_err("the LLM threads stopped"))?
            .clone()
            .ok_or_else(|| sink_err("the extraction has ended"))?;
        queue
            .send(Work {
                doc: Arc::clone(&self.doc),
                task,
            })
            .map_err(|_| sink_err("the LLM threads stopped"))
    }

    /// Records sections that will never get their pages as failed.
    fn fail_rest(&mut self, why: &str) {
        for k in 0..self.sections().len() {
            if self.done.contains(&k) {
                continue;
            }
            let s = &self.sections()[k];
            let record = SectionRecord {
                id: s.id.clone(),
                title: s.title.clone(),
                path: s.path.clone(),
                pages: s.pages(),
                state: State::Failed,
                answer: Value::Null,
                attempts: 0,
                parts: 0,
                tokens_in: 0,
                tokens_out: 0,
                latency_s: 0.0,
                error: Some(why.to_string()),
                markdown: String::new(),
                fingerprint: String::new(),
            };
            (self.shared.on_event)(SectionEvent::Failed {
                at: SectionRef {
                    document: self.doc.plan.document.clone(),
                    section: s.id.clone(),
                },
                attempts: 0,
                error: why.to_string(),
            });
            self.shared.record(&self.doc, &record);
            self.done.insert(k);
        }
    }
}

impl PageSink for SectionSink {
    fn begin(&mut self, _doc: &DocumentMeta) -> Result<(), SinkError> {
        std::fs::create_dir_all(&self.doc.plan.out_dir)?;
        Ok(())
    }

    fn page(&mut self, page: &PageResult) -> Result<(), SinkError> {
        let number = page.outcome.index() + 1;
        while self.next < self.sections().len() && self.sections()[self.next].first <= number {
            let k = self.next;
            self.next += 1;
            if self.sections()[k].last >= number {
                self.open.push((k, MarkdownWriter::new(Vec::new())));
            }
        }
        for (_, w) in self.open.iter_mut() {
            w.page(&page.outcome)?;
        }
        let (ended, open): (Vec<_>, Vec<_>) = std::mem::take(&mut self.open)
            .into_iter()
            .partition(|(k, _)| self.doc.plan.sections[*k].last <= number);
        self.open = open;
        for (k, w) in ended {
            self.close(k, w)?;
        }
        if let PageOutcome::Failed(f) = &page.outcome {
            tracing::debug!(page = number, reason = %f.message, "a failed page in a section");
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<Vec<PathBuf>, SinkError> {
        for (k, w) in std::mem::take(&mut self.open) {
            self.close(k, w)?;
        }
        self.fail_rest("none of its pages was converted (outside the pages asked for?)");
        Ok(vec![self.doc.plan.records_path()])
    }

    fn abort(&mut self) {
        self.open.clear();
        self.fail_rest("the document did not convert");
    }
}
