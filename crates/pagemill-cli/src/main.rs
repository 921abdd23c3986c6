//! The `pagemill` command: a thin shell over `pagemill-engine`.

#![forbid(unsafe_code)]

mod convert;
mod erase;
mod extract;
mod index;
mod job;
mod llm;
mod nats;
mod progress;
mod sections;
mod serve;
mod serve_ledger;
mod upscale;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Exit codes (also in `pagemill --help`).
pub mod exit {
    /// Everything converted.
    pub const OK: u8 = 0;
    /// Nothing could be done (setup problem, no input converted).
    pub const FAILURE: u8 = 1;
    /// Bad command line.
    pub const USAGE: u8 = 2;
    /// Some pages or files failed; the rest was written.
    pub const PARTIAL: u8 = 3;
    /// Stopped by SIGINT or SIGTERM (128 + SIGINT, the shell's convention).
    pub const INTERRUPTED: u8 = 130;
}

#[derive(Parser)]
#[command(
    name = "pagemill",
    version,
    about = "Turn PDFs into clean Markdown and layout JSON — flat memory, every core busy",
    long_about = "pagemill converts documents page by page through bounded worker processes: \
memory stays flat whatever the document's length, and a page that fails is recorded while the \
rest of the job goes on.",
    after_help = "Exit codes: 0 all converted · 1 nothing converted / setup problem · \
2 bad command line · 3 partial (some pages or files failed; the rest was written) · \
130 interrupted (Ctrl-C or SIGTERM: pages in flight finish, complete files are written, \
unfinished ones leave nothing; a second Ctrl-C stops at once)\n\n\
Environment: PAGEMILL_PDFIUM=/path/to/libpdfium.so overrides where PDFium is looked for \
(default: next to the executable, then ~/.local/share/pagemill/lib, installed by scripts/setup). \
RUST_LOG=debug for verbose logs."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert PDFs and images to Markdown, detection Markdown, JSON and PDFs.
    Convert(convert::ConvertArgs),
    /// Remove the text from PDFs and images: find it (text layer or OCR), fill its ink
    /// from the background around it, and write OUT/IN/IN.erased.{png,jpg,pdf} with a
    /// report of the erased boxes (IN.erased.json).
    #[command(name = "erase-text")]
    EraseText(erase::EraseArgs),
    /// Make pages larger with a super-resolution network (Real-ESRGAN) or Lanczos, in
    /// tiles with bounded memory: OUT/IN/IN.x2.png for an image, IN.x2.pdf for a PDF or
    /// multi-page image, and IN.upscale.json (model, scale, tiles, time per page).
    /// PDF pages are rendered at --dpi first.
    Upscale(upscale::UpscaleArgs),
    /// Run the HTTP job service: upload documents, watch their pages convert (SSE), fetch
    /// the results. Settings also come from PAGEMILL_* environment variables (a flag wins).
    Serve(serve::ServeArgs),
    /// Index documents for search: convert, chunk by structure, embed locally
    /// (all-MiniLM-L6-v2) and store in DIR (SQLite + sqlite-vec + Tantivy). Incremental:
    /// unchanged files are skipped, changed ones replaced, vanished ones removed.
    Index(index::IndexArgs),
    /// Search an index: BM25, vector or hybrid (reciprocal-rank fusion).
    Search(index::SearchArgs),
    /// List a document's sections — from its outline (bookmarks), its detected headings,
    /// page ranges or a JSON file — without converting it (headings excepted).
    Sections(sections::SectionsArgs),
    /// Write one PDF per section: OUT/IN/IN.<id>.pdf, and IN.sections.json listing them.
    Split(sections::SplitArgs),
    /// Send each section to an OpenAI-compatible endpoint with a prompt (and a JSON
    /// Schema the answer must match): concurrent, retried, isolated per section,
    /// resumable. Answers in OUT/IN/IN.sections.jsonl; exit code 3 when some failed.
    Extract(extract::ExtractArgs),
    /// Take pages from a NATS JetStream server and convert them here (scale-out): local
    /// worker processes under a memory budget, pulling only what they can run. Producers
    /// are `convert --nats`, `erase-text --nats`, `upscale --nats`.
    Worker(nats::WorkerArgs),
    /// Internal: run as a worker process (started by `convert`).
    #[command(name = "internal-worker", hide = true)]
    InternalWorker,
}

/// The command line, with the defaults that differ by command: `upscale` renders PDF
/// pages at 150 dpi (×2 gives 300) and gives a page 30 minutes, since the compact network
/// costs ~35 CPU-seconds per input megapixel (BENCHMARKS.md, `bench-upscale`).
fn command() -> clap::Command {
    Cli::command().mut_subcommand("upscale", |c| {
        c.mut_arg("page_timeout", |a| a.default_value("1800"))
            .mut_arg("ocr_dpi", |a| a.default_value("150"))
    })
}

fn main() -> ExitCode {
    let cli = match command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    if matches!(cli.command, Command::Index(_) | Command::Search(_)) {
        // The embedding model runs one batch per thread, each on one core (docs/index.md);
        // candle reads this for its matrix products. Set before any thread exists.
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    // The service logs what it does (jobs, requests refused) by default; the commands
    // only warnings.
    let (level, json) = match &cli.command {
        Command::Serve(a) => ("info", a.log_format() == serve::LogFormat::Json),
        Command::Worker(_) => ("info", false),
        _ => ("warn", false),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if json {
        logs.json().init();
    } else {
        logs.init();
    }
    match cli.command {
        Command::Convert(args) => exit_code(convert::run(args)),
        Command::EraseText(args) => exit_code(erase::run(args)),
        Command::Upscale(args) => exit_code(upscale::run(args)),
        Command::Serve(args) => exit_code(serve::run(args)),
        Command::Index(args) => exit_code(index::run(args)),
        Command::Search(args) => exit_code(index::run_search(args)),
        Command::Sections(args) => exit_code(sections::run(args)),
        Command::Split(args) => exit_code(sections::run_split(args)),
        Command::Extract(args) => exit_code(extract::run(args)),
        Command::Worker(args) => exit_code(nats::run_worker(args)),
        Command::InternalWorker => match pagemill_engine::worker::run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("pagemill worker: {e}");
                ExitCode::from(exit::FAILURE)
            }
        },
    }
}

fn exit_code(result: anyhow::Result<u8>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("pagemill: error: {e:#}");
            ExitCode::from(exit::FAILURE)
        }
    }
}
