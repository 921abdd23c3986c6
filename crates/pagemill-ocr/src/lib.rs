//! pagemill-ocr: text from page images.
//!
//! - [`OcrEngine`]: image + deadline → blocks, lines and words with boxes and confidences;
//! - [`Tesseract`]: the engine behind it, Tesseract 5 through its C API.
//!
//! Like PDFium, an engine lives in one worker process and is driven from one thread.

pub mod blocks;
mod engine;
mod native;
pub mod preprocess;
pub mod tesseract;

pub use engine::{
    GrayImage, OcrEngine, OcrError, OcrLine, OcrPage, OcrParagraph, OcrWord, RegionKind,
};
pub use tesseract::{Orientation, Tesseract};
