//! One page's result, as a worker sends it and every sink and checkpoint takes it: the
//! page (or why it failed) and the pictures that come with it.

use serde::{Deserialize, Serialize};

use crate::model::{DocKind, PageOutcome};

/// What a worker sends back for one page: the page, or why it failed, and the pictures
/// the outputs asked for. The one type for a page's result: the protocol carries it,
/// sinks write it and the resume checkpoint keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageResult {
    /// The page, or why it failed.
    pub outcome: PageOutcome,
    /// A small gray picture of the page, for the layout PDF (when asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<PagePreview>,
    /// An image input's page as a PDF image stream, for the searchable PDF (when asked
    /// for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<PageImage>,
    /// The page's figures, cropped (when asked for).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub figures: Vec<FigureImage>,
    /// The page with its text erased (when asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erased: Option<ErasedPage>,
    /// The page upscaled (when asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upscaled: Option<UpscaledPage>,
}

impl PageResult {
    /// A result with no pictures.
    pub fn bare(outcome: PageOutcome) -> Self {
        PageResult {
            outcome,
            preview: None,
            image: None,
            figures: Vec::new(),
            erased: None,
            upscaled: None,
        }
    }
}

/// Whether the text-free version of a document is a PDF (PDF inputs and multi-page
/// images) rather than an image file like the input (one-page images).
pub fn erased_as_pdf(kind: DocKind, page_count: u32) -> bool {
    kind == DocKind::Pdf || page_count > 1
}

/// A page made larger (`pagemill upscale`). The picture itself is too large to travel
/// in a frame (a 25-megapixel drawing ×2 is 100 megapixels): the worker writes it, band
/// by band, as a PNG file in a directory the parent named, and sends its path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpscaledPage {
    /// The PNG file (8-bit gray or RGB, not interlaced).
    pub file: std::path::PathBuf,
    /// Width of the upscaled picture in pixels.
    pub width: u32,
    /// Height of the upscaled picture in pixels.
    pub height: u32,
    /// Whether the picture is gray (one sample a pixel) rather than RGB.
    pub gray: bool,
    /// Width of the picture before, in pixels.
    pub source_width: u32,
    /// Height of the picture before, in pixels.
    pub source_height: u32,
    /// The page's width in points (for a PDF of upscaled pages).
    pub width_pt: f32,
    /// The page's height in points.
    pub height_pt: f32,
    /// How it was upscaled.
    pub model: crate::settings::UpscaleModel,
    /// By how much.
    pub scale: u8,
    /// Tiles the picture was cut into.
    pub tiles: u32,
    /// Milliseconds the upscaling took.
    pub ms: u32,
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
