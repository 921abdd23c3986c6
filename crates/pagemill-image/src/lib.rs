//! Raster inputs as pages of one document.
//!
//! Scans and photos arrive as PNG, JPEG, TIFF (often several pages in one file), GIF, WebP,
//! BMP, PNM or JPEG 2000. [`ImageDocument::open`] reads only headers (format, page count,
//! size, resolution) so a decompression bomb is refused before anything is allocated;
//! [`ImageDocument::decode_gray`] decodes one page to 8-bit gray for OCR, and
//! [`resample`] scales it (Lanczos3) to the resolution OCR wants. [`erase`] removes text
//! from a page image by [`inpaint`]ing its ink from the background around it.

#![forbid(unsafe_code)]

mod crop;
mod density;
mod document;
mod embed;
pub mod erase;
mod gray;
pub mod inpaint;
pub mod resample;
pub mod rules;
mod sniff;

pub use crop::{ColourFrame, RgbCrop};
pub use document::{GrayFrame, ImageDocument, PageInfo};
pub use sniff::{sniff, Format};

/// Why an image could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The file could not be read.
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not in a format pagemill reads.
    #[error(
        "not an image format pagemill reads (PNG, JPEG, TIFF, GIF, WebP, BMP, PNM, JPEG 2000)"
    )]
    UnknownFormat,
    /// The decoder rejected the data.
    #[error("cannot decode the {format} image: {message}")]
    Decode {
        /// The format being decoded.
        format: Format,
        /// The decoder's message.
        message: String,
    },
    /// The image is larger than the decoding limit (a decompression bomb, or a scan at an
    /// absurd resolution).
    #[error(
        "the image is {width}×{height} pixels, over the image pixel limit of {limit}; \
         raise the limit if the file is trusted"
    )]
    TooLarge {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// The limit in pixels.
        limit: u64,
    },
    /// A page past the last one was asked for.
    #[error("the image has no page {0}")]
    NoPage(u32),
    /// A pixel layout the decoders do not turn into gray.
    #[error("unsupported {format} pixel layout: {what}")]
    Unsupported {
        /// The format being decoded.
        format: Format,
        /// What was found.
        what: String,
    },
}
