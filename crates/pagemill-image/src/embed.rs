//! A page image as a PDF image stream, for a searchable PDF made from image inputs.
//!
//! JPEG (gray or RGB) and JPEG 2000 files pass through byte for byte: a PDF viewer
//! decodes them itself (`/DCTDecode`, `/JPXDecode`), so nothing is lost or re-encoded.
//! Other formats are decoded and zlib-compressed (`/FlateDecode`): colour stays colour,
//! transparency is laid over white; so are TIFF pages (gray ones in gray).

use image::ImageDecoder;

use crate::document::{decode_error, decode_limited, reader, ImageDocument};
use crate::gray::{over_white, rgb_over_white};
use crate::{Format, ImageError};
use pagemill_core::result::{deflate, PageImage};
use pagemill_core::result::{ImageColour as Colour, ImageEncoding as Encoding};

impl ImageDocument {
    /// Page `index` as a PDF image stream; a page over `max_pixels` is refused before
    /// it is decoded.
    pub fn embeddable(&self, index: u32, max_pixels: u64) -> Result<PageImage, ImageError> {
        let info = self.page(index).ok_or(ImageError::NoPage(index + 1))?;
        let (width, height) = (info.width, info.height);
        let pixels = u64::from(width) * u64::from(height);
        if pixels > max_pixels {
            return Err(ImageError::TooLarge {
                width,
                height,
                limit: max_pixels,
            });
        }
        let passthrough = |encoding, colour| -> Result<PageImage, ImageError> {
            Ok(PageImage {
                width,
                height,
                encoding,
                colour,
                data: std::fs::read(&self.path)?,
            })
        };
        let flate = |colour, samples: Vec<u8>| PageImage {
            width,
            height,
            encoding: Encoding::Flate,
            colour: Some(colour),
            data: deflate(&samples),
        };
        match self.format() {
            Format::Jpeg2000 => passthrough(Encoding::Jpeg2000, None),
            Format::Tiff => {
                let frame = self.decode_colour(index, max_pixels)?;
                let colour = if frame.channels == 1 {
                    Colour::Gray
                } else {
                    Colour::Rgb
                };
                Ok(flate(colour, frame.pixels))
            }
            format => {
                let decoder = reader(&self.path, format)?
                    .into_decoder()
                    .map_err(|e| decode_error(format, e))?;
                let original = decoder.original_color_type();
                if format == Format::Jpeg {
                    // CMYK JPEGs (often stored inverted) are decoded instead.
                    match original {
                        image::ExtendedColorType::L8 => {
                            return passthrough(Encoding::Jpeg, Some(Colour::Gray))
                        }
                        image::ExtendedColorType::Rgb8 => {
                            return passthrough(Encoding::Jpeg, Some(Colour::Rgb))
                        }
                        _ => {}
                    }
                }
                let colour = decoder.color_type();
                let img = decode_limited(&self.path, format, max_pixels)?;
                let gray = matches!(colour.channel_count(), 1 | 2);
                Ok(match (gray, colour.has_alpha()) {
                    (true, false) => flate(Colour::Gray, img.into_luma8().into_raw()),
                    (true, true) => flate(
                        Colour::Gray,
                        img.to_luma_alpha8()
                            .pixels()
                            .map(|p| over_white(p.0[0], p.0[1]))
                            .collect(),
                    ),
                    (false, _) => flate(Colour::Rgb, rgb_over_white(img)),
                })
            }
        }
    }
}
