//! Documents as the scheduler runs them: opened, their pages filed in order and written to
//! their sinks, finished (or dropped) — and every memory permit given back on the way.

use std::collections::VecDeque;
use std::path::Path;
use std::time::Instant;

use pagemill_core::model::{DocInfo, DocKind, FileErrorKind, TextSource};
use pagemill_core::pipeline::{FurnitureStage, Permit, ReorderWindow};
use pagemill_core::sink::{DocumentMeta, PageSink};
use pagemill_core::{PageOutcome, PageResult};
use pagemill_export::DocumentSinks;

use super::affinity::PageClaims;
use super::checkpoint::{self, Checkpoint};
use super::{Flight, Job, Scheduler};
use crate::events::{EventSender, FileReport, JobEvent};

/// A result waiting for its turn: the page, the worker's time on it, its memory.
type Waiting = (PageResult, u32, Permit);

/// A running document.
pub(crate) struct Running {
    /// Which pages each worker takes next.
    pub(crate) claims: PageClaims,
    /// Pages in the document (the selection is read against it).
    pub(crate) page_count: u32,
    pub(crate) total: u32,
    pub(crate) written: u32,
    /// Pages out of the reorder window: in the furniture stage or written.
    filed: u32,
    /// Holds the next few pages back to tell running headers and footers by repetition.
    furniture: FurnitureStage<u32>,
    ok: u32,
    failed: u32,
    pub(crate) window: ReorderWindow<Waiting>,
    pub(crate) retry: VecDeque<Flight>,
    /// The file outputs first, then the job's own sinks.
    sinks: Vec<Box<dyn PageSink>>,
    /// Where written pages are kept for `--resume`.
    checkpoint: Option<Checkpoint>,
    /// Pages of this document are priced as OCR pages: it is an image, OCR is forced, or
    /// one of its pages already needed OCR (a scanned PDF is scanned throughout, usually).
    pub(crate) ocr_priced: bool,
}

/// Where a document is.
pub(crate) enum DocState {
    Queued { attempts: u8 },
    Opening,
    Running(Box<Running>),
}

/// A document of a job.
pub(crate) struct Doc {
    pub(crate) id: u32,
    /// Index into the job's inputs.
    pub(crate) input: usize,
    pub(crate) started: Instant,
    pub(crate) state: DocState,
}

impl Running {
    /// Writes one page to every sink.
    fn write_sinks(&mut self, result: &PageResult) -> Result<(), String> {
        for sink in &mut self.sinks {
            sink.page(result).map_err(|e| e.to_string())?;
        }
        match &result.outcome {
            PageOutcome::Ok(_) => self.ok += 1,
            PageOutcome::Failed(_) => self.failed += 1,
        }
        self.written += 1;
        Ok(())
    }

    /// Writes one page to every sink, then keeps it for `--resume`.
    fn write(&mut self, result: &PageResult) -> Result<(), String> {
        self.write_sinks(result)?;
        if let Some(c) = &mut self.checkpoint {
            if let Err(e) = c.write(result) {
                tracing::warn!(error = %e, "checkpoint not written; this document can no longer be resumed");
                if let Some(c) = self.checkpoint.take() {
                    c.remove();
                }
            }
        }
        Ok(())
    }
}

impl Scheduler {
    /// A document opened: refuse it past the page limit, or start its sinks (replaying
    /// what a killed run left, with `resume`) and let its pages go.
    pub(crate) fn start_doc(&mut self, job: u64, id: u32, info: DocInfo) {
        let slots = self.slots.len();
        let Some(j) = self.jobs.iter_mut().find(|j| j.id == job) else {
            return;
        };
        let window = if j.pages_in_runs() {
            self.window.0
        } else {
            self.window.1
        };
        let Some(doc) = j.active.iter().find(|d| d.id == id) else {
            return;
        };
        let input = j.inputs[doc.input].clone();
        if let Some(max) = j.spec.max_pages.filter(|&m| info.page_count > m) {
            let msg = format!(
                "{}: the document has {} pages, over the page limit of {max}; raise the \
                 limit (pages are picked within it)",
                input.path.display(),
                info.page_count
            );
            return self.finish_doc(job, id, Some((FileErrorKind::TooManyPages, msg)));
        }
        let total = j.spec.pages.count(info.page_count);
        let meta = DocumentMeta {
            doc: id,
            source: j.spec.source_label.label(&input.path),
            path: input.path.clone(),
            stem: input.stem.clone(),
            info: info.clone(),
            pages: total,
        };
        let files = DocumentSinks::create(
            &input.out_dir,
            &input.stem,
            &meta.source,
            &input.path,
            &info,
            j.spec.formats,
            total,
        );
        let mut sinks: Vec<Box<dyn PageSink>> = match files {
            Ok(s) => vec![Box::new(s)],
            Err(e) => {
                let msg = format!("cannot write to {}: {e}", input.out_dir.display());
                return self.finish_doc(job, id, Some((FileErrorKind::Output, msg)));
            }
        };
        for factory in &j.spec.sinks {
            match factory.create(&meta) {
                Ok(Some(s)) => sinks.push(s),
                Ok(None) => {}
                Err(e) => {
                    abort_all(&mut sinks);
                    let msg = format!("{}: {e}", meta.source);
                    return self.finish_doc(job, id, Some((FileErrorKind::Output, msg)));
                }
            }
        }
        for s in &mut sinks {
            if let Err(e) = s.begin(&meta) {
                abort_all(&mut sinks);
                let msg = format!("{}: {e}", meta.source);
                return self.finish_doc(job, id, Some((FileErrorKind::Output, msg)));
            }
        }
        j.events.send(JobEvent::FileStarted {
            job,
            doc: id,
            file: input.path.clone(),
            output: input.out_dir.clone(),
            pages: total,
            page_count: info.page_count,
        });
        let checkpoint = match Checkpoint::open(
            &input.out_dir,
            &checkpoint::fingerprint(&j.spec, &input),
            j.spec.resume,
        ) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(file = %input.path.display(), error = %e, "no checkpoint: this document cannot be resumed");
                None
            }
        };
        let mut running = Running {
            claims: PageClaims::new(0, u64::from(total), slots),
            page_count: info.page_count,
            total,
            written: 0,
            filed: 0,
            furniture: FurnitureStage::new(),
            ok: 0,
            failed: 0,
            window: ReorderWindow::new(window),
            retry: VecDeque::new(),
            sinks,
            ocr_priced: info.kind == DocKind::Image || j.ocr_forced(),
            checkpoint: None,
        };
        // A resumed document: the pages written before the kill, replayed from their records.
        if let Some((mut c, n)) = checkpoint {
            let mut replayed = 0u32;
            let records = match c.replay() {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(error = %e, "checkpoint unreadable; converting from the start");
                    None
                }
            };
            for result in records.into_iter().flatten() {
                if u64::from(replayed) >= n.min(u64::from(total)) {
                    break;
                }
                // Replayed pages are written to the sinks only: the log holds them already.
                if let Err(e) = running.write_sinks(&result) {
                    abort_all(&mut running.sinks);
                    let msg = format!("cannot write outputs to {}: {e}", input.out_dir.display());
                    c.remove();
                    return self.finish_doc(job, id, Some((FileErrorKind::Output, msg)));
                }
                running.furniture.remember(&result);
                running.filed += 1;
                running.ocr_priced |= is_ocr(&result);
                page_written(
                    &mut j.events,
                    &mut j.pages_done,
                    id,
                    &input.path,
                    &result.outcome,
                    0,
                );
                replayed += 1;
            }
            if u64::from(replayed) < n {
                tracing::warn!(
                    page = replayed,
                    "checkpoint record unreadable; converting from there"
                );
                if let Err(e) = c.truncate(u64::from(replayed)) {
                    tracing::warn!(error = %e, "checkpoint not cut; this document can no longer be resumed");
                }
            }
            if replayed > 0 {
                tracing::info!(file = %input.path.display(), pages = replayed, "resumed");
            }
            running.claims = PageClaims::new(u64::from(replayed), u64::from(total), slots);
            running.window = ReorderWindow::starting_at(window, u64::from(replayed));
            running.checkpoint = Some(c);
        }
        let complete = running.written >= total;
        if let Some(doc) = j.active.iter_mut().find(|d| d.id == id) {
            doc.state = DocState::Running(Box::new(running));
        }
        if complete {
            self.finish_doc(job, id, None);
        }
    }

    /// Files a page result and writes every page that is now next in order.
    pub(crate) fn accept_page(
        &mut self,
        job: u64,
        id: u32,
        seq: u64,
        result: PageResult,
        worker_ms: u32,
        permit: Option<Permit>,
    ) {
        let permit = match permit {
            Some(p) => p,
            None => match self.budget.try_admit(0) {
                Some(p) => p,
                None => return,
            },
        };
        let Some(j) = self.jobs.iter_mut().find(|j| j.id == job) else {
            self.budget.release(permit);
            return;
        };
        let Job {
            active,
            inputs,
            events,
            pages_done,
            ..
        } = j;
        let Some(doc) = active.iter_mut().find(|d| d.id == id) else {
            self.budget.release(permit);
            return;
        };
        let DocState::Running(r) = &mut doc.state else {
            self.budget.release(permit);
            return;
        };
        r.ocr_priced |= is_ocr(&result);
        if let Err((_, _, p)) = r.window.insert(seq, (result, worker_ms, permit)) {
            self.budget.release(p);
            return;
        }
        let input = &inputs[doc.input];
        let mut write_error = None;
        'filing: while let Some((result, worker_ms, permit)) = r.window.pop_ready() {
            // The worker's memory is free again; what the stage holds is the page's result
            // (AHEAD of them), and holding the permits could leave a small budget with no
            // room for the pages the stage waits for.
            self.budget.release(permit);
            r.filed += 1;
            let mut ready = r.furniture.push(result, worker_ms);
            if r.filed >= r.total {
                ready.extend(r.furniture.finish());
            }
            for (result, worker_ms) in ready {
                if let Err(e) = r.write(&result) {
                    write_error = Some((
                        FileErrorKind::Output,
                        format!("cannot write outputs to {}: {e}", input.out_dir.display()),
                    ));
                    break 'filing;
                }
                page_written(
                    events,
                    pages_done,
                    id,
                    &input.path,
                    &result.outcome,
                    worker_ms,
                );
            }
        }
        let complete = r.written >= r.total;
        if write_error.is_some() || complete {
            self.finish_doc(job, id, write_error);
        }
    }

    /// Ends a document: finishes its sinks (or aborts them on error), gives back every
    /// permit it still holds — results waiting behind a gap and retries included — tells
    /// the workers to close it, reports it, and takes up the job's next input.
    pub(crate) fn finish_doc(&mut self, job: u64, id: u32, error: Option<(FileErrorKind, String)>) {
        let Some(j) = self.jobs.iter_mut().find(|j| j.id == job) else {
            return;
        };
        let Some(pos) = j.active.iter().position(|d| d.id == id) else {
            return;
        };
        let Some(doc) = j.active.remove(pos) else {
            return;
        };
        let input = &j.inputs[doc.input];
        let mut report = FileReport {
            path: input.path.clone(),
            seconds: doc.started.elapsed().as_secs_f64(),
            ..Default::default()
        };
        if let Some((kind, message)) = error {
            report.fail(kind, message);
        }
        if let DocState::Running(r) = doc.state {
            let mut r = *r;
            if let Some(c) = r.checkpoint.take() {
                c.remove();
            }
            report.pages = r.total;
            report.ok = r.ok;
            report.failed = r.failed;
            for (_, _, p) in r.window.drain() {
                self.budget.release(p);
            }
            for f in r.retry.drain(..) {
                if let Some(p) = f.permit {
                    self.budget.release(p);
                }
            }
            if report.error.is_none() {
                for sink in &mut r.sinks {
                    match sink.finish() {
                        Ok(paths) => report.outputs.extend(paths),
                        Err(e) => {
                            let msg = format!(
                                "cannot finish outputs in {}: {e}",
                                input.out_dir.display()
                            );
                            report.fail(FileErrorKind::Output, msg);
                            break;
                        }
                    }
                }
            }
            if report.error.is_some() {
                abort_all(&mut r.sinks);
            }
        }
        j.events
            .send(JobEvent::file_finished(job, Some(id), &report));
        j.summary.files.push(report);
        for slot in 0..self.slots.len() {
            self.transport
                .send(slot, &pagemill_core::protocol::Request::Close { doc: id });
        }
        self.take_up_inputs(job);
    }
}

/// Whether a page was OCRed (its document is then priced as a scan).
fn is_ocr(result: &PageResult) -> bool {
    matches!(&result.outcome, PageOutcome::Ok(p) if p.source == TextSource::Ocr)
}

/// Counts a page written and reports it.
fn page_written(
    events: &mut EventSender,
    pages_done: &mut u64,
    doc: u32,
    file: &Path,
    outcome: &PageOutcome,
    worker_ms: u32,
) {
    *pages_done += 1;
    let ev = JobEvent::page(events.job(), doc, file.to_path_buf(), outcome, worker_ms);
    events.send(ev);
}

/// Aborts every sink (a document that will not complete).
fn abort_all(sinks: &mut [Box<dyn PageSink>]) {
    for s in sinks {
        s.abort();
    }
}
