//! `pagemill erase-text`.

use clap::{Args, ValueEnum};
use pagemill_core::settings::{EraseSettings, OcrMode};
use pagemill_export::Formats;

use crate::job::{self, JobArgs, JobKind};
use crate::upscale::ModelArgs;

/// How the text to erase is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FindText {
    /// The text layer of born-digital PDF pages (exact boxes), OCR everywhere else.
    Auto,
    /// OCR on every page.
    Ocr,
}

/// A confidence between 0 and 1.
fn parse_confidence(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a confidence between 0 and 1")),
    }
}

#[derive(Debug, Args)]
pub struct EraseArgs {
    #[command(flatten)]
    job: JobArgs,

    /// Where the text's boxes come from.
    #[arg(long, value_enum, value_name = "HOW", default_value_t = FindText::Auto)]
    find: FindText,

    /// Readings of each page: after erasing what the first one found, the page is OCRed
    /// again and whatever is still legible is erased too, up to this many readings.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=5))]
    passes: u8,

    /// OCR words under this confidence (0–1) are kept: in photos and drawings they are
    /// mostly texture the engine took for letters.
    #[arg(long, value_name = "C", default_value = "0.4", value_parser = parse_confidence)]
    min_confidence: f32,

    /// Upscale each page by this factor (2–4) before erasing its text, in the same pass:
    /// the output is the larger page without its text.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(2..=4))]
    upscale_output: Option<u8>,

    #[command(flatten)]
    model: ModelArgs,

    /// Also write the usual conversion outputs (comma-separated, as `convert --format`).
    #[arg(long, value_name = "LIST")]
    also: Option<Formats>,
}

pub fn run(args: EraseArgs) -> anyhow::Result<u8> {
    let formats = Formats {
        erased: true,
        ..args.also.unwrap_or_else(Formats::none)
    };
    let kind = JobKind {
        mode: match args.find {
            FindText::Auto => OcrMode::Auto,
            FindText::Ocr => OcrMode::Always,
        },
        formats,
        layout_dpi: 100,
        figure_dpi: 150,
        erase: Some(EraseSettings {
            passes: args.passes,
            min_confidence: args.min_confidence,
        }),
        upscale: args
            .upscale_output
            .map(|scale| args.model.settings(scale))
            .transpose()?,
    };
    job::run(&args.job, kind)
}
