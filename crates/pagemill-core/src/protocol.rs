//! Messages between the parent and its worker processes, and their framing.
//!
//! PDFium is not thread-safe, and native parsers meet untrusted input, so every page is
//! worked on in a separate process. The parent writes [`Request`]s to a worker's stdin and
//! reads [`Response`]s from its stdout. Each frame is a 4-byte little-endian length followed
//! by that many bytes of JSON; frames over [`MAX_FRAME`] are refused rather than allocated.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use thiserror::Error;

use crate::model::PageOutcome;

/// Largest frame accepted (a page's result is typically a few KiB to a few hundred KiB).
pub const MAX_FRAME: u32 = 64 * 1024 * 1024;

/// A document a worker is asked to work on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocRef {
    /// The parent's id for the document (unique within a run).
    pub id: u32,
    /// Path of the file.
    pub path: PathBuf,
    /// User password for an encrypted file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// When and how to OCR pages.
    #[serde(default)]
    pub ocr: OcrSettings,
    /// Milliseconds a page may take (OCR is told to give up by then).
    #[serde(default = "default_page_timeout_ms")]
    pub page_timeout_ms: u64,
    /// Send a gray picture of each page at this resolution with its result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_dpi: Option<u32>,
    /// Send each page of an image input as a PDF image stream with its result (for the
    /// searchable PDF).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub page_images: bool,
    /// Crop each figure and send it as a JPEG with its page; vector drawings and OCR
    /// image regions are rendered at this resolution (images at their own, up to it twice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub figure_dpi: Option<u32>,
    /// Erase the page's text and send the page image back ([`ErasedPage`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erase: Option<EraseSettings>,
}

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

/// Whether the text-free version of a document is a PDF (PDF inputs and multi-page
/// images) rather than an image file like the input (one-page images).
pub fn erased_as_pdf(kind: DocKind, page_count: u32) -> bool {
    kind == DocKind::Pdf || page_count > 1
}

fn default_page_timeout_ms() -> u64 {
    60_000
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

/// Parent → worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Open the document and report its page count.
    Open {
        /// The document.
        doc: DocRef,
    },
    /// Convert one page.
    Page {
        /// The document.
        doc: DocRef,
        /// 0-based page index.
        index: u32,
    },
    /// Forget a document (close it if open).
    Close {
        /// The parent's id for the document.
        doc: u32,
    },
}

/// Facts about an opened document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocInfo {
    /// Number of pages.
    pub page_count: u32,
    /// PDF version as `1.7`, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdf_version: Option<String>,
    /// `/Title` from the document information dictionary, if present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What kind of file it is.
    #[serde(default)]
    pub kind: DocKind,
}

/// What kind of file a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// A PDF.
    #[default]
    Pdf,
    /// A raster image (every page is OCRed).
    Image,
}

/// Worker → parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Response {
    /// Reply to [`Request::Open`].
    Opened {
        /// The parent's id for the document.
        doc: u32,
        /// What was found.
        info: DocInfo,
    },
    /// [`Request::Open`] (or the implicit open of [`Request::Page`]) failed.
    OpenFailed {
        /// The parent's id for the document.
        doc: u32,
        /// One line, for a person.
        message: String,
    },
    /// Reply to [`Request::Page`].
    Page {
        /// The parent's id for the document.
        doc: u32,
        /// The page, or why it failed.
        outcome: PageOutcome,
        /// The page as an image, when [`DocRef::preview_dpi`] asked for one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preview: Option<PagePreview>,
        /// The page of an image input as a PDF image stream, when
        /// [`DocRef::page_images`] asked for it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        image: Option<PageImage>,
        /// The page's figures, cropped, when [`DocRef::figure_dpi`] asked for them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        figures: Vec<FigureImage>,
        /// The page with its text erased, when [`DocRef::erase`] asked for it (boxed: the
        /// other answers are small).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        erased: Option<Box<ErasedPage>>,
    },
}

/// A page with its text erased.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErasedPage {
    /// Width of the page image in pixels.
    pub width: u32,
    /// Height of the page image in pixels.
    pub height: u32,
    /// The page image.
    pub output: ErasedOutput,
    /// Boxes (pixels, `[x0, y0, x1, y1)`) that pixels were changed in; every pixel outside
    /// them is as it was.
    pub regions: Vec<[u32; 4]>,
    /// Pixels replaced.
    pub pixels: u64,
    /// Words erased by each reading of the page (the last one finding none means the
    /// page reads empty).
    pub words: Vec<u32>,
}

/// How an erased page is delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ErasedOutput {
    /// A PNG file (one-page image inputs other than JPEG).
    Png {
        /// The file, base64 in the frame.
        #[serde(with = "base64_bytes")]
        data: Vec<u8>,
    },
    /// A JPEG file (one-page JPEG inputs).
    Jpeg {
        /// The file, base64 in the frame.
        #[serde(with = "base64_bytes")]
        data: Vec<u8>,
    },
    /// A page of the erased PDF (see [`erased_as_pdf`]).
    PdfPage {
        /// The page's picture.
        image: PageImage,
        /// Page width in points.
        width_pt: f32,
        /// Page height in points.
        height_pt: f32,
    },
}

/// A cropped figure: a JPEG named as the page's figure block names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FigureImage {
    /// Path relative to the document's output directory (`images/<page>_<n>.jpg`).
    pub name: String,
    /// The JPEG file, base64 in the frame.
    #[serde(with = "base64_bytes")]
    pub jpeg: Vec<u8>,
}

/// How a [`PageImage`]'s bytes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageEncoding {
    /// A JPEG file, passed through (`/DCTDecode`).
    Jpeg,
    /// A JPEG 2000 file, passed through (`/JPXDecode`; it names its own colour space).
    Jpeg2000,
    /// zlib-compressed 8-bit samples (`/FlateDecode`).
    Flate,
}

/// zlib-compresses `data`: the bytes of a `/FlateDecode` stream ([`ImageEncoding::Flate`]
/// page images, and the PDF outputs' own streams).
pub fn deflate(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut z = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        flate2::Compression::new(6),
    );
    // Writing to a Vec cannot fail.
    let _ = z.write_all(data);
    z.finish().unwrap_or_default()
}

/// The colour space of a [`PageImage`]'s samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageColour {
    /// One sample a pixel.
    Gray,
    /// Three samples a pixel.
    Rgb,
}

/// A page of an image input as the stream of a PDF image XObject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// How `data` is encoded.
    pub encoding: ImageEncoding,
    /// Colour space (`None` for JPEG 2000).
    pub colour: Option<ImageColour>,
    /// The stream's bytes, base64 in the frame.
    #[serde(with = "base64_bytes")]
    pub data: Vec<u8>,
}

/// A small picture of a page (for the layout PDF): gray JPEG bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagePreview {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The JPEG file, base64 in the frame (frames are JSON).
    #[serde(with = "base64_bytes")]
    pub jpeg: Vec<u8>,
}

mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

/// A framing error.
#[derive(Debug, Error)]
pub enum FrameError {
    /// The stream ended cleanly between frames.
    #[error("end of stream")]
    Eof,
    /// The peer announced a frame larger than [`MAX_FRAME`].
    #[error("frame of {0} bytes exceeds the {MAX_FRAME}-byte limit")]
    TooLarge(u32),
    /// The bytes were not a valid message.
    #[error("malformed message: {0}")]
    Malformed(#[from] serde_json::Error),
    /// I/O failed (including a stream cut inside a frame).
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

/// Writes one framed message and flushes.
pub fn write_frame<W: Write, T: Serialize>(w: &mut W, msg: &T) -> Result<(), FrameError> {
    let body = serde_json::to_vec(msg)?;
    let len = u32::try_from(body.len()).map_err(|_| FrameError::TooLarge(u32::MAX))?;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    w.write_all(&len.to_le_bytes())?;
    w.write_all(&body)?;
    w.flush()?;
    Ok(())
}

/// Reads one framed message. Returns [`FrameError::Eof`] on a clean end between frames.
pub fn read_frame<R: Read, T: DeserializeOwned>(r: &mut R) -> Result<(T, usize), FrameError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..])? {
            0 if got == 0 => return Err(FrameError::Eof),
            0 => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
            n => got += n,
        }
    }
    let len = u32::from_le_bytes(len);
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    let mut body = vec![0u8; len as usize];
    r.read_exact(&mut body)?;
    Ok((serde_json::from_slice(&body)?, len as usize))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FailureReason, PageFailure};

    #[test]
    fn frames_round_trip() {
        let msgs = vec![
            Response::Opened {
                doc: 1,
                info: DocInfo {
                    page_count: 9660,
                    pdf_version: Some("1.5".into()),
                    title: None,
                    kind: Default::default(),
                },
            },
            Response::Page {
                doc: 1,
                outcome: PageOutcome::Failed(PageFailure {
                    index: 7,
                    reason: FailureReason::Invalid,
                    message: "bad".into(),
                }),
                preview: None,
                image: None,
                figures: Vec::new(),
                erased: None,
            },
            // Binary page pictures travel base64 in the JSON frame and come back intact.
            Response::Page {
                doc: 1,
                outcome: PageOutcome::Failed(PageFailure {
                    index: 8,
                    reason: FailureReason::Timeout,
                    message: "slow".into(),
                }),
                preview: Some(PagePreview {
                    width: 3,
                    height: 1,
                    jpeg: vec![0xff, 0xd8, 0x00, 0x7f, 0x80, 0xff, 0xd9],
                }),
                image: Some(PageImage {
                    width: 2,
                    height: 1,
                    encoding: ImageEncoding::Flate,
                    colour: Some(ImageColour::Rgb),
                    data: vec![0x78, 0x9c, 0x00, 0xff],
                }),
                figures: vec![FigureImage {
                    name: "images/8_0.jpg".into(),
                    jpeg: vec![0xff, 0xd8, 0x01, 0xff, 0xd9],
                }],
                erased: Some(Box::new(ErasedPage {
                    width: 4,
                    height: 2,
                    output: ErasedOutput::Png {
                        data: vec![0x89, b'P', b'N', b'G', 0x00],
                    },
                    regions: vec![[1, 0, 3, 2]],
                    pixels: 3,
                    words: vec![1, 0],
                })),
            },
        ];
        let mut buf = Vec::new();
        for m in &msgs {
            write_frame(&mut buf, m).unwrap();
        }
        let mut r = &buf[..];
        for m in &msgs {
            let (got, _): (Response, usize) = read_frame(&mut r).unwrap();
            assert_eq!(&got, m);
        }
        assert!(matches!(
            read_frame::<_, Response>(&mut r),
            Err(FrameError::Eof)
        ));
    }

    #[test]
    fn refuses_oversized_and_truncated_frames() {
        let huge = (MAX_FRAME + 1).to_le_bytes();
        assert!(matches!(
            read_frame::<_, Request>(&mut &huge[..]),
            Err(FrameError::TooLarge(_))
        ));
        let cut = [10u8, 0, 0, 0, b'{'];
        assert!(matches!(
            read_frame::<_, Request>(&mut &cut[..]),
            Err(FrameError::Io(_))
        ));
        let garbage = [2u8, 0, 0, 0, b'{', b'x'];
        assert!(matches!(
            read_frame::<_, Request>(&mut &garbage[..]),
            Err(FrameError::Malformed(_))
        ));
    }
}
