//! What every OCR engine takes and gives.

use std::time::Duration;

use pagemill_core::BBox;

/// An 8-bit grayscale image, rows top to bottom, `width` bytes a row.
#[derive(Debug, Clone, Copy)]
pub struct GrayImage<'a> {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height` bytes.
    pub pixels: &'a [u8],
    /// Resolution the image was rendered or scanned at (guides the engine's size priors);
    /// 0 when unknown.
    pub dpi: u32,
}

impl GrayImage<'_> {
    /// Width and height as C ints, after checking that the pixels are all there.
    pub(crate) fn checked_size(&self) -> Result<(i32, i32), OcrError> {
        let (w, h) = (self.width as usize, self.height as usize);
        if w == 0 || h == 0 || self.pixels.len() < w * h {
            return Err(OcrError::Image(format!(
                "{}×{} image with {} bytes",
                self.width,
                self.height,
                self.pixels.len()
            )));
        }
        Ok((
            i32::try_from(w).map_err(|_| OcrError::Image("too wide".into()))?,
            i32::try_from(h).map_err(|_| OcrError::Image("too tall".into()))?,
        ))
    }
}

/// What kind of region the engine found a paragraph in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionKind {
    /// Running text.
    Text,
    /// A heading, by the engine's page layout analysis.
    Heading,
    /// A caption.
    Caption,
    /// Text inside a table region.
    Table,
    /// Vertical text.
    Vertical,
    /// Text of any other region (pull-outs, equations).
    Other,
}

/// A recognised word. Boxes are in image pixels, origin top-left.
#[derive(Debug, Clone, PartialEq)]
pub struct OcrWord {
    /// The word's box.
    pub bbox: BBox,
    /// The word.
    pub text: String,
    /// Recognition confidence, 0.0–1.0.
    pub confidence: f32,
    /// The engine thinks the word is bold.
    pub bold: bool,
}

/// A line of words.
#[derive(Debug, Clone, PartialEq)]
pub struct OcrLine {
    /// The line's box.
    pub bbox: BBox,
    /// Words left to right (in reading direction).
    pub words: Vec<OcrWord>,
}

/// A paragraph: lines that belong together, in reading order.
#[derive(Debug, Clone, PartialEq)]
pub struct OcrParagraph {
    /// The paragraph's box.
    pub bbox: BBox,
    /// The region the paragraph was found in.
    pub kind: RegionKind,
    /// Lines top to bottom.
    pub lines: Vec<OcrLine>,
}

/// Everything recognised on one image, in the engine's reading order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OcrPage {
    /// Paragraphs in reading order.
    pub paragraphs: Vec<OcrParagraph>,
    /// Picture regions the engine's layout analysis found (image pixels).
    pub figures: Vec<BBox>,
}

/// Why recognition failed.
#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    /// The engine could not start (missing library data or language).
    #[error("{0}")]
    Init(String),
    /// The deadline passed before recognition finished.
    #[error("OCR did not finish within {0:?}")]
    Deadline(Duration),
    /// The image cannot be handed to the engine.
    #[error("image not usable for OCR: {0}")]
    Image(String),
    /// The engine failed on this image.
    #[error("OCR failed: {0}")]
    Failed(String),
}

/// An OCR engine: an image and a deadline in, paragraphs, lines and words out.
///
/// Engines are not expected to be thread-safe: one per worker process.
pub trait OcrEngine {
    /// Recognises the text in `image`, giving up when `deadline` has passed.
    fn recognize(&mut self, image: &GrayImage<'_>, deadline: Duration)
        -> Result<OcrPage, OcrError>;
}
