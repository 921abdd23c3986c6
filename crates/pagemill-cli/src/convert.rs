//! `pagemill convert`.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use pagemill_core::protocol::{OcrMode, OcrSettings, Upscale};
use pagemill_core::ranges::PageRanges;
use pagemill_engine::{convert, plan_inputs, ConvertOptions};
use pagemill_export::Formats;
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::exit;
use crate::progress::Reporter;
use crate::size::parse_size;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// A progress bar on stderr (when it is a terminal) and a summary.
    Bar,
    /// One JSON object per event on stdout (NDJSON), for programs.
    Json,
}

/// When pages are OCRed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OcrWhen {
    /// Pages with a text layer use it; pages without one are OCRed.
    Auto,
    /// Every page is OCRed.
    Always,
    /// No page is OCRed.
    Never,
}

/// A pixel count: `25000000`, `25M`, `1.5G`.
fn parse_count(s: &str) -> Result<u64, String> {
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

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// PDF files, images (PNG, JPEG, TIFF, GIF, WebP, BMP, PNM, JPEG 2000) or directories
    /// (searched recursively for those).
    #[arg(required = true, value_name = "IN")]
    inputs: Vec<PathBuf>,

    /// Output directory; each input gets OUT/<name>/<name>.{md,det.md,json}.
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,

    /// Pages to convert, 1-based: `1-10,20,30-`.
    #[arg(long, value_name = "RANGES")]
    pages: Option<String>,

    /// Worker processes [default: number of cores].
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,

    /// Memory that pages in flight may hold (e.g. 512MiB, 2G). A text page is priced at
    /// 4 MiB, an OCR page at ~100 MB (300 dpi), so with many cores and scans, raise it to
    /// keep every worker busy.
    #[arg(long, value_name = "SIZE", default_value = "512MiB", value_parser = parse_size)]
    memory_budget: u64,

    /// Output formats, comma-separated: md, json, det, hocr, layouts, searchable, images.
    #[arg(
        long,
        value_name = "LIST",
        default_value = "md,json,det,layouts,images"
    )]
    format: Formats,

    /// Also write `OUT/IN/IN.hocr` (hOCR 1.2: pages, blocks, lines and OCR words with
    /// boxes and confidences), same as adding `hocr` to --format.
    #[arg(long)]
    hocr: bool,

    /// Write `OUT/IN/IN.layouts.pdf` (the default): each page as a picture with every
    /// block's box drawn over it (a colour per kind, labelled with reading order and
    /// kind), streamed page by page. Same as adding `layouts` to --format.
    #[arg(long, overrides_with = "no_layout_pdf")]
    layout_pdf: bool,

    /// Leave out `IN.layouts.pdf`. Rendering the pictures is most of the work on
    /// born-digital input (about 6× the CPU of the text outputs alone; BENCHMARKS.md).
    #[arg(long, overrides_with = "layout_pdf")]
    no_layout_pdf: bool,

    /// Also write `OUT/IN/IN.ocr.pdf` (PDF inputs): the input unchanged, plus an invisible
    /// text layer on every OCR page so viewers and `pdftotext` find the words where they
    /// are. Same as adding `searchable` to --format.
    #[arg(long)]
    searchable: bool,

    /// Resolution of figure crops (`OUT/IN/images/`) of vector drawings and OCR image
    /// regions; embedded images are cropped at their own resolution, up to twice this.
    #[arg(long, value_name = "DPI", default_value_t = 150, value_parser = clap::value_parser!(u32).range(36..=600))]
    figure_dpi: u32,

    /// Resolution of the page pictures in the layout PDF.
    #[arg(long, value_name = "DPI", default_value_t = 100, value_parser = clap::value_parser!(u32).range(36..=300))]
    layout_dpi: u32,

    /// Seconds a page may take before it is abandoned and recorded as failed (`timeout`).
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    page_timeout: f64,

    /// User password for encrypted PDFs.
    #[arg(long, value_name = "PASSWORD")]
    password: Option<String>,

    /// When to OCR: `auto` OCRs pages without a text layer, `always` every page, `never`
    /// none.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = OcrWhen::Auto)]
    ocr: OcrWhen,

    /// OCR languages in Tesseract's syntax, e.g. `eng+deu` (packages tesseract-ocr-LANG).
    #[arg(long, value_name = "LANGS", default_value = "eng")]
    lang: String,

    /// Resolution pages are rendered at for OCR.
    #[arg(long, value_name = "DPI", default_value_t = 300, value_parser = clap::value_parser!(u32).range(50..=1200))]
    ocr_dpi: u32,

    /// Largest page image for OCR, in pixels (e.g. 25M); larger pages are rendered at a
    /// lower resolution.
    #[arg(long, value_name = "PIXELS", default_value = "25M", value_parser = parse_count)]
    max_page_pixels: u64,

    /// Largest image inside a page that may be decoded, in pixels; a page holding a larger
    /// one (a decompression bomb) fails instead of being decoded.
    #[arg(long, value_name = "PIXELS", default_value = "150M", value_parser = parse_count)]
    max_image_pixels: u64,

    /// Upscaling of low-resolution images before OCR (Lanczos3): `auto` brings images
    /// under 200 dpi to --ocr-dpi, `off`, or `2x`–`4x` always. PDF pages are rendered at
    /// --ocr-dpi instead.
    #[arg(long, value_name = "MODE", default_value = "auto", value_parser = parse_upscale)]
    upscale: Upscale,

    /// Progress display.
    #[arg(long, value_enum, default_value_t = ProgressMode::Bar)]
    progress: ProgressMode,

    /// No progress bar and no summary (errors are still printed).
    #[arg(short, long)]
    quiet: bool,
}

/// Estimated bytes one text-layer page holds in flight: the worker's working set for the
/// page plus its serialized result. Rough on purpose; results are re-priced at their real
/// size as they arrive.
const TEXT_PAGE_COST: u64 = 4 << 20;

/// Worker memory an OCR page takes beyond the worker's idle baseline (PDFium and
/// Tesseract loaded, 42 MB): a fixed part for Tesseract's recognition and layout data,
/// and a part per page pixel (the rendered page, its upright copy, Tesseract's copies).
/// Fitted to VmHWM of one worker on R-intro scans: 113.5 MB at 3.74 MP (200 dpi),
/// 134.6 MB at 8.4 MP (300 dpi).
const OCR_PAGE_BASE: u64 = 55 << 20;
/// See [`OCR_PAGE_BASE`].
const OCR_BYTES_PER_PIXEL: u64 = 5;

/// What an OCR page is priced at: a US Letter page at the OCR resolution (capped by
/// --max-page-pixels).
fn ocr_page_cost(dpi: u32, max_page_pixels: u64) -> u64 {
    let letter = (8.5 * dpi as f64).ceil() as u64 * (11.0 * dpi as f64).ceil() as u64;
    OCR_PAGE_BASE + letter.min(max_page_pixels) * OCR_BYTES_PER_PIXEL
}

pub fn run(args: ConvertArgs) -> anyhow::Result<u8> {
    let pages = match &args.pages {
        Some(p) => PageRanges::parse(p).context("--pages")?,
        None => PageRanges::all(),
    };
    if !(args.page_timeout.is_finite() && args.page_timeout > 0.0) {
        bail!("--page-timeout must be a positive number of seconds");
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create output directory {}", args.output.display()))?;
    let (inputs, errors) = plan_inputs(&args.inputs, &args.output);
    for e in &errors {
        eprintln!("pagemill: {e}");
    }
    if inputs.is_empty() {
        bail!("nothing to convert: no readable PDF or image among the inputs");
    }
    // Fail early, in the parent, if PDFium is missing: one clear line beats N worker errors.
    pagemill_pdf_check()?;
    let mode = match args.ocr {
        OcrWhen::Auto => OcrMode::Auto,
        OcrWhen::Always => OcrMode::Always,
        OcrWhen::Never => OcrMode::Never,
    };
    if mode != OcrMode::Never {
        // Reads the data directory only; Tesseract itself starts in the workers.
        pagemill_ocr::tesseract::check_languages(&args.lang).context("--lang")?;
    }

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // The first signal asks for a graceful stop; a second one, while it is under way,
        // ends the process at once (a later run removes the temporary files it leaves).
        signal_hook::flag::register_conditional_shutdown(
            signal,
            i32::from(exit::INTERRUPTED),
            Arc::clone(&stop),
        )
        .context("cannot install the signal handler")?;
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("cannot install the signal handler")?;
    }
    let opts = ConvertOptions {
        worker_exe: std::env::current_exe().context("cannot find the pagemill executable")?,
        jobs,
        memory_budget: args.memory_budget,
        page_cost: TEXT_PAGE_COST,
        ocr_page_cost: ocr_page_cost(args.ocr_dpi, args.max_page_pixels),
        pages,
        formats: Formats {
            hocr: args.format.hocr || args.hocr,
            layouts: (args.format.layouts || args.layout_pdf) && !args.no_layout_pdf,
            searchable: args.format.searchable || args.searchable,
            ..args.format
        },
        layout_dpi: args.layout_dpi,
        figure_dpi: args.figure_dpi,
        password: args.password.clone(),
        page_timeout: Duration::from_secs_f64(args.page_timeout),
        ocr: OcrSettings {
            mode,
            languages: args.lang.clone(),
            dpi: args.ocr_dpi,
            max_page_pixels: args.max_page_pixels,
            max_image_pixels: args.max_image_pixels,
            upscale: args.upscale,
        },
        stop,
    };
    let mut reporter = Reporter::new(args.progress, args.quiet, inputs.len());
    let summary = convert(&inputs, &opts, |ev| reporter.event(ev))?;
    reporter.finish(&summary, errors.len());
    if summary.interrupted {
        eprintln!(
            "pagemill: interrupted: {} file(s) complete were written; unfinished files left no output",
            summary.files.iter().filter(|f| f.error.is_none()).count()
        );
        return Ok(exit::INTERRUPTED);
    }

    let failed_inputs = errors.len() + summary.files_failed();
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

/// Checks that PDFium can be found (without loading it in this process: parsing untrusted
/// documents happens only in workers).
fn pagemill_pdf_check() -> anyhow::Result<()> {
    pagemill_engine::worker::locate_pdfium()?;
    Ok(())
}
