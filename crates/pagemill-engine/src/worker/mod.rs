//! The worker side: the page pipeline run inside each worker process.
//!
//! A page flows **read → (OCR) → figures → preview → (upscale →) erase → page image**, or
//! **read → upscale** for `pagemill upscale`, one stage per module: [`source`] opens the document, [`page`] reads a page from its text layer or
//! sends it to [`ocr`], [`figures`] crops its figures, [`preview`] draws the small picture
//! for the layout PDF, [`upscale`] enlarges its picture, [`erase`] takes its text off. [`PagePipeline::handle`] turns one
//! [`Request`] into its [`Response`] and knows nothing of how requests arrive; [`run`] is
//! the local process transport's loop around it (framed JSON on stdin and stdout).
//!
//! PDFium is loaded once per process and every open document is reused for the pages that
//! follow. Slow growth of native memory is handled by the parent, which drains and replaces
//! a worker whose memory grows past its warm baseline (see `scheduler::faults`).

mod erase;
mod error;
mod figures;
mod ocr;
mod page;
mod preview;
mod source;
mod upscale;

use std::collections::VecDeque;
use std::io::{self, BufReader, BufWriter};
use std::time::Instant;

use pagemill_core::model::FileErrorKind;
use pagemill_core::protocol::{read_frame, write_frame, DocRef, FrameError, Request, Response};
use pagemill_pdf::{Engine, PdfError};

pub use error::{PageError, WorkerError};
use ocr::OcrState;
use source::Source;
use upscale::UpscaleState;

/// Documents kept open at once (the one being finished and the next one).
const OPEN_DOCS: usize = 2;

/// An open document and the parent's id for it.
struct OpenDoc<'e> {
    id: u32,
    doc: Source<'e>,
}

/// One worker's state between requests: the PDF engine, the OCR engine (started on the
/// first page that needs it) and the documents it has open.
pub struct PagePipeline<'e> {
    engine: &'e Engine,
    ocr: OcrState,
    upscale: UpscaleState,
    open: VecDeque<OpenDoc<'e>>,
}

impl<'e> PagePipeline<'e> {
    /// A pipeline over a loaded PDF engine.
    pub fn new(engine: &'e Engine) -> Self {
        PagePipeline {
            engine,
            ocr: OcrState::default(),
            upscale: UpscaleState::default(),
            open: VecDeque::new(),
        }
    }

    /// Answers one request (`None` for those that are not answered: `Close`).
    pub fn handle(&mut self, req: Request) -> Option<Response> {
        self.handle_reporting(req, &mut |_| {})
    }

    /// Answers one request, passing the progress of a long page
    /// ([`Response::Progress`]: an upscaled page's tiles) to `report` as it happens.
    pub fn handle_reporting(
        &mut self,
        req: Request,
        report: &mut dyn FnMut(Response),
    ) -> Option<Response> {
        match req {
            Request::Open { id, doc } => Some(match open_doc(&mut self.open, self.engine, &doc) {
                Ok(source) => Response::Opened {
                    id,
                    info: source.info(),
                },
                Err((kind, message)) => Response::OpenFailed { id, kind, message },
            }),
            Request::Page { id, doc, index } => {
                let started = Instant::now();
                limit_cpu(doc.page_timeout_ms, doc.upscale.is_some());
                let mut progress = |done, total| report(Response::Progress { id, done, total });
                let result = match open_doc(&mut self.open, self.engine, &doc) {
                    Ok(source) => page::read_page(
                        &mut self.ocr,
                        &mut self.upscale,
                        source,
                        &doc,
                        index,
                        &mut progress,
                    ),
                    Err((_, message)) => page::failed(index, message),
                };
                let worker_ms = started.elapsed().as_millis().min(u32::MAX as u128) as u32;
                Some(Response::Page {
                    id,
                    result: Box::new(result),
                    worker_ms,
                })
            }
            Request::Close { doc } => {
                self.open.retain(|d| d.id != doc);
                None
            }
        }
    }
}

/// The open document `doc`, opened (or reopened, if it was let go) when it is not.
fn open_doc<'a, 'e>(
    open: &'a mut VecDeque<OpenDoc<'e>>,
    engine: &'e Engine,
    doc: &DocRef,
) -> Result<&'a mut Source<'e>, (FileErrorKind, String)> {
    if let Some(pos) = open.iter().position(|d| d.id == doc.id) {
        return Ok(&mut open[pos].doc);
    }
    let opened = Source::open(engine, &doc.source, doc.password.as_deref())?;
    while open.len() >= OPEN_DOCS {
        open.pop_front();
    }
    open.push_back(OpenDoc {
        id: doc.id,
        doc: opened,
    });
    let last = open.len() - 1;
    Ok(&mut open[last].doc)
}

/// Runs the worker loop of the local process transport until stdin closes. Errors only
/// when PDFium cannot be loaded or the parent's stream is broken.
pub fn run() -> Result<(), WorkerError> {
    // Ctrl-C reaches the whole process group; the parent decides when workers stop (it
    // lets pages in flight finish), and a worker whose parent is gone sees stdin close.
    // SAFETY: setting a signal to be ignored has no handler to be unsafe in.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
    }
    let engine = Engine::load()?;
    let mut pipeline = PagePipeline::new(&engine);
    let mut input = BufReader::new(io::stdin().lock());
    let mut output = BufWriter::new(io::stdout().lock());
    loop {
        let req: Request = match read_frame(&mut input) {
            Ok((r, _)) => r,
            Err(FrameError::Eof) => return Ok(()),
            Err(e) => return Err(WorkerError::Protocol(e)),
        };
        let mut lost = None;
        let answer = pipeline.handle_reporting(req, &mut |progress| {
            if let Err(e) = write_frame(&mut output, &progress) {
                lost.get_or_insert(e);
            }
        });
        if let Some(e) = lost {
            return Err(WorkerError::Protocol(e));
        }
        if let Some(resp) = answer {
            write_frame(&mut output, &resp).map_err(WorkerError::Protocol)?;
        }
    }
}

/// Sets this process's CPU-time limit to what it has used plus twice the page's
/// deadline: an OS backstop behind the parent's wall-clock deadline (a page that spins
/// in native code is ended by `SIGXCPU` even if the parent cannot act). Set per page, as
/// a worker lives for many pages; a soft limit, which the process may raise again.
/// Upscaling runs its matrix products on every core, so its pages are allowed that many
/// times more.
fn limit_cpu(page_timeout_ms: u64, all_cores: bool) {
    let threads = if all_cores {
        std::thread::available_parallelism().map_or(1, |n| n.get() as u64)
    } else {
        1
    };
    // SAFETY: getrusage and setrlimit write only into the structs passed.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return;
        }
        let used = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + 1;
        let allowed = (page_timeout_ms / 1000).saturating_mul(2 * threads).max(1) + 1;
        let lim = libc::rlimit {
            rlim_cur: (used as u64).saturating_add(allowed) as libc::rlim_t,
            rlim_max: libc::RLIM_INFINITY,
        };
        libc::setrlimit(libc::RLIMIT_CPU, &lim);
    }
}

/// Where PDFium would be loaded from, checked in the parent before workers start.
pub fn locate_pdfium() -> Result<std::path::PathBuf, PdfError> {
    pagemill_pdf::library::locate()
}
