//! `pagemill upscale`, and the upscaling options `erase-text` shares.

use anyhow::bail;
use clap::{Args, ValueEnum};
use pagemill_core::settings::{OcrMode, UpscaleModel, UpscaleSettings};
use pagemill_export::Formats;

use crate::job::{self, parse_count, JobArgs, JobKind};

/// How pictures are made larger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelArg {
    /// Real-ESRGAN's compact network (realesr-animevideov3): line drawings, text, scans.
    Compact,
    /// Real-ESRGAN's RRDB network (realesrgan-x4plus): photographs; ×4 only, slow.
    X4plus,
    /// Lanczos3 interpolation: no model.
    Lanczos,
}

impl From<ModelArg> for UpscaleModel {
    fn from(m: ModelArg) -> Self {
        match m {
            ModelArg::Compact => UpscaleModel::Compact,
            ModelArg::X4plus => UpscaleModel::X4plus,
            ModelArg::Lanczos => UpscaleModel::Lanczos,
        }
    }
}

/// The model options of `upscale` and `erase-text --upscale-output`.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// How to upscale.
    #[arg(long, value_enum, value_name = "MODEL", default_value_t = ModelArg::Compact)]
    pub model: ModelArg,

    /// Largest upscaled picture, in pixels (e.g. 100M): a page whose picture would be
    /// larger fails at once, with its size, instead of filling memory and disk.
    #[arg(long, value_name = "PIXELS", default_value = "150M", value_parser = parse_count)]
    pub max_output_pixels: u64,

    /// Side of the tiles pictures are upscaled in, in input pixels: a worker's memory
    /// grows with its square (compact: ~60 MB at 128, x4plus ~450 MB), and tiles much
    /// smaller than the default cost more time (their margins are computed twice).
    #[arg(long, value_name = "PIXELS", default_value_t = 128, value_parser = clap::value_parser!(u32).range(32..=2048))]
    pub tile: u32,
}

impl ModelArgs {
    /// The settings for upscaling by `scale`; refuses a scale the model has no file for.
    pub fn settings(&self, scale: u8) -> anyhow::Result<UpscaleSettings> {
        if self.model == ModelArg::X4plus && scale != 4 {
            bail!("--model x4plus upscales by 4 only: use --scale 4, or --model compact");
        }
        Ok(UpscaleSettings {
            model: self.model.into(),
            scale,
            max_output_pixels: self.max_output_pixels,
            tile: self.tile,
        })
    }
}

#[derive(Debug, Args)]
pub struct UpscaleArgs {
    #[command(flatten)]
    job: JobArgs,

    /// How many times larger.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u8).range(2..=4))]
    scale: u8,

    #[command(flatten)]
    model: ModelArgs,
}

pub fn run(args: UpscaleArgs) -> anyhow::Result<u8> {
    let upscale = args.model.settings(args.scale)?;
    let kind = JobKind {
        // Nothing is read off the pages: a PDF page's text layer is the only thing looked
        // at (cheap), and never OCRed.
        mode: OcrMode::Never,
        formats: Formats {
            upscaled: Some(args.scale),
            ..Formats::none()
        },
        layout_dpi: 100,
        figure_dpi: 150,
        erase: None,
        upscale: Some(upscale),
    };
    job::run(&args.job, kind)
}
