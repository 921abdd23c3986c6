//! What `convert` and `erase-text` share: the inputs, limits and OCR options of a run, and
//! the run itself (signals, progress, exit code).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use pagemill_core::ranges::PageRanges;
use pagemill_core::settings::{EraseSettings, OcrMode, OcrSettings, Upscale, UpscaleSettings};
use pagemill_engine::{run_job, Engine, EngineConfig, EngineError, JobSpec};
use pagemill_export::Formats;
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::exit;
use crate::progress::Reporter;
use pagemill_core::size::parse_size;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// A progress bar on stderr (when it is a terminal) and a summary.
    Bar,
    /// One JSON object per event on stdout (NDJSON), for programs.
    Json,
}

/// A pixel count: `25000000`, `25M`, `1.5G`.
pub fn parse_count(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1e3),
        Some((i, 'm' | 'M')) => (&t[..i], 1e6),
        Some((i, 'g' | 'G')) => (&t[..i], 1e9),
        _ => (t, 1.0),
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok((v * mult) as u64),
        _ => Err(format!("`{s}` is not a pixel count (e.g. 25M)")),
    }
}

/// `--upscale`: `auto`, `off`, or a factor `2x`–`4x`.
fn parse_upscale(s: &str) -> Result<Upscale, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(Upscale::Auto),
        "off" | "none" | "1x" => Ok(Upscale::Off),
        t => match t.strip_suffix('x').and_then(|n| n.parse::<u8>().ok()) {
            Some(n @ 2..=4) => Ok(Upscale::Times(n)),
            _ => Err(format!("`{s}` is not auto, off, 2x, 3x or 4x")),
        },
    }
}

/// Options every run takes.
#[derive(Debug, Args)]
pub struct JobArgs {
    /// PDF files, images (PNG, JPEG, TIFF, GIF, WebP, BMP, PNM, JPEG 2000) or directories
    /// (searched recursively for those).
    #[arg(required = true, value_name = "IN")]
    pub inputs: Vec<PathBuf>,

    /// Output directory; each input gets its own OUT/<name>/ with files named after it.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,

    /// Pages to work on, 1-based: `1-10,20,30-`.
    #[arg(long, value_name = "RANGES")]
    pub pages: Option<String>,

    /// Worker processes [default: number of cores].
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Memory that pages in flight may hold (e.g. 512MiB, 2G). A text page is priced at
    /// 4 MiB, an OCR page at ~100 MB (300 dpi), so with many cores and scans, raise it to
    /// keep every worker busy.
    #[arg(long, value_name = "SIZE", default_value = "512MiB", value_parser = parse_size)]
    pub memory_budget: u64,

    /// Seconds a page may take before it is abandoned and recorded as failed (`timeout`).
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub page_timeout: f64,

    /// User password for encrypted PDFs (files with only an owner password open without
    /// one). Visible in the shell's history and the process list: --password-file is safer.
    #[arg(long, value_name = "PASSWORD", conflicts_with = "password_file")]
    pub password: Option<String>,

    /// File whose first line is the user password for encrypted PDFs.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,

    /// Most memory (heap and private mappings) one worker process may use, e.g. 1GiB; a
    /// page that needs more is retried at half the resolution, then fails with `memory`.
    /// [default: twice --memory-budget per worker, at least 768 MiB]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub worker_memory: Option<u64>,

    /// Largest input file, in bytes (e.g. 2GiB); larger files are refused before anything
    /// reads them.
    #[arg(long, value_name = "SIZE", default_value = "4GiB", value_parser = parse_size)]
    pub max_file_size: u64,

    /// Most pages a document may have; longer ones are refused when opened.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub max_pages: u32,

    #[command(flatten)]
    pub nats: crate::nats::NatsArgs,

    /// OCR languages in Tesseract's syntax, e.g. `eng+deu` (packages tesseract-ocr-LANG).
    #[arg(long, value_name = "LANGS", default_value = "eng")]
    pub lang: String,

    /// Resolution pages are rendered at for OCR (and, in `upscale`, before upscaling).
    #[arg(long, visible_alias = "dpi", value_name = "DPI", default_value_t = 300, value_parser = clap::value_parser!(u32).range(50..=1200))]
    pub ocr_dpi: u32,

    /// Largest page image for OCR, in pixels (e.g. 25M); larger pages are rendered at a
    /// lower resolution.
    #[arg(long, value_name = "PIXELS", default_value = "25M", value_parser = parse_count)]
    pub max_page_pixels: u64,

    /// Largest image inside a page that may be decoded, in pixels; a page holding a larger
    /// one (a decompression bomb) fails instead of being decoded.
    #[arg(long, value_name = "PIXELS", default_value = "150M", value_parser = parse_count)]
    pub max_image_pixels: u64,

    /// Upscaling of low-resolution images before OCR (Lanczos3): `auto` brings images
    /// under 200 dpi to --ocr-dpi, `off`, or `2x`–`4x` always. PDF pages are rendered at
    /// --ocr-dpi instead.
    #[arg(long, value_name = "MODE", default_value = "auto", value_parser = parse_upscale)]
    pub upscale: Upscale,

    /// Continue from where a killed run stopped: pages it finished (kept under
    /// OUT/IN/.pagemill-resume/) are not converted again, and the outputs come out as an
    /// uninterrupted run writes them. Without it, a new run starts each document over.
    #[arg(long)]
    pub resume: bool,

    /// Progress display.
    #[arg(long, value_enum, default_value_t = ProgressMode::Bar)]
    pub progress: ProgressMode,

    /// No progress bar and no summary (errors are still printed).
    #[arg(short, long)]
    pub quiet: bool,

    /// More to show in the bar (an extraction's sections).
    #[arg(skip)]
    pub status: Option<StatusLine>,
}

/// Text a command adds to the progress bar, read each time the bar's message changes.
#[derive(Clone)]
pub struct StatusLine(pub Arc<dyn Fn() -> String + Send + Sync>);

impl std::fmt::Debug for StatusLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StatusLine")
    }
}

/// The conversion options of the commands that convert for another purpose (`index`,
/// `extract`): the pages go to their sinks, nothing else is written.
#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// Worker processes converting pages [default: number of cores].
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Memory that pages in flight may hold (as for `convert`).
    #[arg(long, value_name = "SIZE", default_value = "512MiB", value_parser = parse_size)]
    pub memory_budget: u64,

    /// Seconds a page may take to convert before it is abandoned.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub page_timeout: f64,

    /// When to OCR (as for `convert`).
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = crate::convert::OcrWhen::Auto)]
    pub ocr: crate::convert::OcrWhen,

    /// OCR languages in Tesseract's syntax.
    #[arg(long, value_name = "LANGS", default_value = "eng")]
    pub lang: String,

    /// Progress display.
    #[arg(long, value_enum, default_value_t = ProgressMode::Bar)]
    pub progress: ProgressMode,

    /// No progress bar and no summary (errors are still printed).
    #[arg(short, long)]
    pub quiet: bool,

    /// More to show in the bar (an extraction's sections).
    #[arg(skip)]
    pub status: Option<StatusLine>,
}

impl PipelineArgs {
    /// Defaults, quiet: for a conversion a command runs on the side (finding headings).
    pub fn quiet_defaults() -> Self {
        PipelineArgs {
            jobs: None,
            memory_budget: 512 << 20,
            page_timeout: 60.0,
            ocr: crate::convert::OcrWhen::Auto,
            lang: "eng".into(),
            progress: ProgressMode::Bar,
            quiet: true,
            status: None,
        }
    }

    /// Runs a job converting `inputs` (only `pages`, when given) into `sinks`, writing no
    /// files of its own; `output` holds the engine's scratch files.
    pub fn run(
        &self,
        inputs: Vec<PathBuf>,
        output: PathBuf,
        pages: Option<String>,
        sinks: Vec<Arc<dyn pagemill_core::sink::SinkFactory>>,
    ) -> anyhow::Result<u8> {
        let args = JobArgs {
            inputs,
            output,
            pages,
            jobs: self.jobs,
            memory_budget: self.memory_budget,
            page_timeout: self.page_timeout,
            password: None,
            password_file: None,
            worker_memory: None,
            max_file_size: 4 << 30,
            max_pages: 100_000,
            lang: self.lang.clone(),
            ocr_dpi: 300,
            max_page_pixels: 25_000_000,
            max_image_pixels: 150_000_000,
            upscale: Upscale::Auto,
            resume: false,
            progress: self.progress,
            quiet: self.quiet,
            status: self.status.clone(),
            nats: Default::default(),
        };
        let kind = JobKind {
            mode: OcrMode::from(self.ocr),
            formats: Formats::none(),
            layout_dpi: 100,
            figure_dpi: 150,
            erase: None,
            upscale: None,
        };
        run_with_sinks(&args, kind, sinks)
    }
}

/// The first line of a password file (its line ending removed).
fn read_password(path: &std::path::Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--password-file: cannot read {}", path.display()))?;
    let line = text.lines().next().unwrap_or("");
    if line.is_empty() {
        bail!(
            "--password-file: {} is empty; put the password on its first line",
            path.display()
        );
    }
    Ok(line.to_string())
}

/// What differs between the commands that run a job.
pub struct JobKind {
    /// When pages are OCRed.
    pub mode: OcrMode,
    /// What is written.
    pub formats: Formats,
    /// Resolution of the layout PDF's pictures.
    pub layout_dpi: u32,
    /// Resolution of figure crops.
    pub figure_dpi: u32,
    /// Text removal, for `erase-text`.
    pub erase: Option<EraseSettings>,
    /// Upscaling of the pictures written (`upscale`, `erase-text --upscale-output`).
    pub upscale: Option<UpscaleSettings>,
}

/// A flag set by SIGINT or SIGTERM. The first signal asks for a graceful stop; a second
/// one, while it is under way, ends the process at once (a later run removes the
/// temporary files it leaves).
pub fn stop_on_signals() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(
            signal,
            i32::from(exit::INTERRUPTED),
            Arc::clone(&stop),
        )
        .context("cannot install the signal handler")?;
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("cannot install the signal handler")?;
    }
    Ok(stop)
}

/// Runs a job over `args.inputs`; returns the exit code.
pub fn run(args: &JobArgs, kind: JobKind) -> anyhow::Result<u8> {
    run_with_sinks(args, kind, Vec::new())
}

/// Runs a job whose pages also go to `sinks` (the index).
pub fn run_with_sinks(
    args: &JobArgs,
    kind: JobKind,
    sinks: Vec<Arc<dyn pagemill_core::sink::SinkFactory>>,
) -> anyhow::Result<u8> {
    let pages = match &args.pages {
        Some(p) => PageRanges::parse(p).context("--pages")?,
        None => PageRanges::all(),
    };
    if !(args.page_timeout.is_finite() && args.page_timeout > 0.0) {
        bail!("--page-timeout must be a positive number of seconds");
    }
    let workers = args
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    let password = match &args.password_file {
        Some(path) => Some(read_password(path)?),
        None => args.password.clone(),
    };
    let spec = JobSpec {
        inputs: args.inputs.clone(),
        output: args.output.clone(),
        pages,
        formats: kind.formats,
        ocr: OcrSettings {
            mode: kind.mode,
            languages: args.lang.clone(),
            dpi: args.ocr_dpi,
            max_page_pixels: args.max_page_pixels,
            max_image_pixels: args.max_image_pixels,
            upscale: args.upscale,
        },
        layout_dpi: kind.layout_dpi,
        figure_dpi: kind.figure_dpi,
        erase: kind.erase,
        upscale: kind.upscale,
        password,
        page_timeout: Duration::from_secs_f64(args.page_timeout),
        resume: args.resume,
        max_file_size: Some(args.max_file_size),
        max_pages: Some(args.max_pages),
        source_label: pagemill_engine::SourceLabel::AsGiven,
        sinks,
    };
    let config = EngineConfig {
        workers,
        memory_budget: args.memory_budget,
        worker_memory: args.worker_memory,
        // The NDJSON stream is read by programs that want every event: room for a few
        // thousand before a slow reader starts missing any. (The channel's slots are
        // allocated up front: 65,536 of them cost 8 MB of the parent's memory.)
        event_capacity: 4096,
        ..Default::default()
    };

    let stop = stop_on_signals()?;
    let mut reporter = Reporter::new(args.progress, args.quiet, args.status.clone());
    let engine = match &args.nats.nats {
        Some(url) => {
            let options = args.nats.options(url)?;
            let transport = pagemill_nats::NatsTransport::connect(options, config.workers)?;
            Engine::with_transport(config, Box::new(transport))?
        }
        None => Engine::start(config)?,
    };
    let summary = match run_job(&engine, spec, &stop, |ev| reporter.event(ev)) {
        Ok(r) => r,
        Err(EngineError::NothingToConvert { errors }) => {
            for e in &errors {
                eprintln!("pagemill: {e}");
            }
            bail!("nothing to convert: no readable PDF or image among the inputs");
        }
        Err(EngineError::Output { path, source }) => {
            bail!(
                "cannot create output directory {}: {source}",
                path.display()
            )
        }
        Err(e) => return Err(e.into()),
    };
    engine.shutdown();
    reporter.finish(&summary);
    if summary.interrupted {
        eprintln!(
            "pagemill: interrupted: {} file(s) complete were written; unfinished files left no output",
            summary.files.iter().filter(|f| f.error.is_none()).count()
        );
        return Ok(exit::INTERRUPTED);
    }

    let failed_inputs = summary.files_failed();
    Ok(
        if summary.pages_ok() == 0 && (failed_inputs > 0 || summary.pages_failed() > 0) {
            exit::FAILURE
        } else if failed_inputs > 0 || summary.pages_failed() > 0 {
            exit::PARTIAL
        } else {
            exit::OK
        },
    )
}
