//! What can go wrong in a worker: one page ([`PageError`]), or the worker itself
//! ([`WorkerError`]). Kept apart from the pipeline so every stage can name them without
//! the stages importing each other.

use pagemill_core::protocol::FrameError;
use pagemill_image::ImageError;
use pagemill_ocr::OcrError;
use pagemill_pdf::PdfError;

/// Why one page failed.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The PDF engine could not read the page.
    #[error(transparent)]
    Pdf(#[from] PdfError),
    /// The image could not be decoded.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// OCR failed or ran out of time.
    #[error(transparent)]
    Ocr(#[from] OcrError),
    /// The page could not be upscaled (a model missing or broken).
    #[error(transparent)]
    Upscale(#[from] pagemill_upscale::UpscaleError),
    /// The upscaled page would be larger than the output limit.
    #[error(
        "the page upscaled would be {width}×{height} pixels, over the limit of {limit} pixels: \
         use a smaller scale or raise the limit"
    )]
    OutputTooLarge {
        /// Width it would have.
        width: u64,
        /// Height it would have.
        height: u64,
        /// The limit.
        limit: u64,
    },
    /// A picture of the page could not be encoded.
    #[error("cannot encode the page image: {0}")]
    Encode(String),
}

/// Why a worker stopped.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// PDFium could not be loaded.
    #[error(transparent)]
    Pdf(#[from] PdfError),
    /// The parent's stream broke or sent garbage.
    #[error("worker protocol error: {0}")]
    Protocol(FrameError),
}
