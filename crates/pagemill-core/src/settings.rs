//! Per-job settings that travel to the workers with each request: when and how pages are
//! OCRed, and how text is erased. (Machine settings — workers, memory — are the engine's.)

use serde::{Deserialize, Serialize};

/// How `pagemill erase-text` removes text from a page.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EraseSettings {
    /// Readings of the page: after the first erasure the page is OCRed again and what is
    /// still read is erased too, up to this many readings in all (1: no check).
    pub passes: u8,
    /// OCR words under this confidence (0–1) are left alone: in photos and drawings
    /// they are mostly texture the engine mistook for letters.
    pub min_confidence: f32,
}

impl Default for EraseSettings {
    fn default() -> Self {
        EraseSettings {
            passes: 2,
            min_confidence: 0.4,
        }
    }
}

/// When pages are OCRed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OcrMode {
    /// Use the text layer when the page has one; OCR pages without text.
    #[default]
    Auto,
    /// OCR every page, ignoring any text layer.
    Always,
    /// Never OCR: pages without a text layer come out empty.
    Never,
}

/// OCR settings of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OcrSettings {
    /// When to OCR.
    pub mode: OcrMode,
    /// Tesseract languages (`eng`, `eng+deu`).
    pub languages: String,
    /// Rendering resolution for OCR.
    pub dpi: u32,
    /// Largest rendered page, in pixels; larger pages are rendered at a lower resolution.
    pub max_page_pixels: u64,
    /// Largest embedded image that may be decoded; pages holding larger ones fail.
    pub max_image_pixels: u64,
    /// When image inputs are upscaled before OCR.
    #[serde(default)]
    pub upscale: Upscale,
}

/// When scans are upscaled before OCR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Upscale {
    /// Images whose recorded resolution is under 200 dpi are brought to the OCR resolution.
    #[default]
    Auto,
    /// Never.
    Off,
    /// Always by this factor (2 to 4).
    Times(u8),
}

impl Default for OcrSettings {
    fn default() -> Self {
        OcrSettings {
            mode: OcrMode::Auto,
            languages: "eng".into(),
            dpi: 300,
            max_page_pixels: 25_000_000,
            max_image_pixels: 150_000_000,
            upscale: Upscale::Auto,
        }
    }
}

/// How a page's picture is made larger (`pagemill upscale`, `erase-text
/// --upscale-output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpscaleModel {
    /// Real-ESRGAN's compact network (`realesr-animevideov3`): fast; for line art, text
    /// and scans.
    #[default]
    Compact,
    /// Real-ESRGAN's RRDB network (`realesrgan-x4plus`): slow; for photographs; ×4 only.
    X4plus,
    /// Lanczos3 interpolation: no model, the baseline.
    Lanczos,
}

impl UpscaleModel {
    /// Its name on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            UpscaleModel::Compact => "compact",
            UpscaleModel::X4plus => "x4plus",
            UpscaleModel::Lanczos => "lanczos",
        }
    }
}

/// Upscaling of the picture a job writes: the page itself (`pagemill upscale`), or the
/// page before its text is erased (`erase-text --upscale-output`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpscaleSettings {
    /// How.
    pub model: UpscaleModel,
    /// By how much (2, 3 or 4).
    pub scale: u8,
    /// Largest output, in pixels: a page whose upscaled picture would be larger fails
    /// before any work is done.
    pub max_output_pixels: u64,
    /// Side of a tile, in input pixels (memory grows with its square).
    pub tile: u32,
}

impl Default for UpscaleSettings {
    fn default() -> Self {
        UpscaleSettings {
            model: UpscaleModel::Compact,
            scale: 2,
            max_output_pixels: 150_000_000,
            tile: 128,
        }
    }
}
