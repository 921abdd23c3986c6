//! An image file as a document of pages: headers at open, one page decoded at a time.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::density::{bmp_dpi, jpeg_dpi, plausible, png_dpi};
use crate::gray::{
    gray_over_white, interleaved_to_gray, interleaved_to_rgb, stretch, unpack, ycbcr_to_rgb,
};
use crate::{sniff, Format, ImageError};

/// TIFF pages read at most: a guard against directory chains that never end.
const MAX_TIFF_PAGES: usize = 100_000;
/// Bytes of the file read to find the resolution in PNG/JPEG/BMP headers.
const HEADER_BYTES: u64 = 64 * 1024;

/// Size and resolution of one page, from the headers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageInfo {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Horizontal resolution recorded in the file, if any (and plausible).
    pub dpi: Option<f32>,
}

impl PageInfo {
    /// The resolution that gives the page its size in points: the recorded one, else 72
    /// (a pixel is a point, as image viewers and converters take it).
    pub fn sizing_dpi(&self) -> f32 {
        self.dpi.unwrap_or(72.0)
    }
}

/// One decoded page: 8-bit gray, rows top to bottom, transparency composed on white.
#[derive(Debug, Clone, PartialEq)]
pub struct GrayFrame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height` bytes.
    pub pixels: Vec<u8>,
    /// Resolution, if known.
    pub dpi: Option<f32>,
}

/// An image file opened as pages (a TIFF may hold many; other formats hold one).
#[derive(Debug, Clone)]
pub struct ImageDocument {
    pub(crate) path: PathBuf,
    format: Format,
    pages: Vec<PageInfo>,
}

impl ImageDocument {
    /// Reads the headers of `path`: format, pages, their sizes and resolutions. No pixel
    /// data is decoded, so this is cheap and safe on any size of image.
    pub fn open(path: &Path) -> Result<Self, ImageError> {
        let mut head = Vec::new();
        File::open(path)?
            .take(HEADER_BYTES)
            .read_to_end(&mut head)?;
        let format = sniff(&head).ok_or(ImageError::UnknownFormat)?;
        let pages = match format {
            Format::Tiff => tiff_pages(path)?,
            Format::Jpeg2000 => {
                let data = std::fs::read(path)?;
                let img = jp2_image(&data)?;
                vec![PageInfo {
                    width: img.width(),
                    height: img.height(),
                    dpi: None,
                }]
            }
            _ => {
                let (width, height) = reader(path, format)?
                    .into_dimensions()
                    .map_err(|e| decode_error(format, e))?;
                let dpi = match format {
                    Format::Png => png_dpi(&head),
                    Format::Jpeg => jpeg_dpi(&head),
                    Format::Bmp => bmp_dpi(&head),
                    _ => None,
                };
                vec![PageInfo { width, height, dpi }]
            }
        };
        Ok(ImageDocument {
            path: path.to_path_buf(),
            format,
            pages,
        })
    }

    /// The file's format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Number of pages.
    pub fn page_count(&self) -> u32 {
        self.pages.len() as u32
    }

    /// Size and resolution of page `index`.
    pub fn page(&self, index: u32) -> Option<PageInfo> {
        self.pages.get(index as usize).copied()
    }

    /// Decodes page `index` to gray. A page over `max_pixels` (width × height) is refused
    /// before any pixel buffer is allocated.
    pub fn decode_gray(&self, index: u32, max_pixels: u64) -> Result<GrayFrame, ImageError> {
        let info = self.page(index).ok_or(ImageError::NoPage(index + 1))?;
        if u64::from(info.width) * u64::from(info.height) > max_pixels {
            return Err(ImageError::TooLarge {
                width: info.width,
                height: info.height,
                limit: max_pixels,
            });
        }
        let pixels = match self.format {
            Format::Tiff => tiff_gray(&self.path, index, max_pixels)?,
            Format::Jpeg2000 => jp2_gray(&std::fs::read(&self.path)?)?,
            f => raster_gray(&self.path, f, max_pixels)?,
        };
        let expected = info.width as usize * info.height as usize;
        if pixels.len() != expected {
            return Err(ImageError::Decode {
                format: self.format,
                message: format!(
                    "decoded {} pixels, the header says {expected}",
                    pixels.len()
                ),
            });
        }
        Ok(GrayFrame {
            width: info.width,
            height: info.height,
            pixels,
            dpi: info.dpi,
        })
    }
}

pub(crate) fn decode_error(format: Format, e: impl std::fmt::Display) -> ImageError {
    ImageError::Decode {
        format,
        message: e.to_string(),
    }
}

pub(crate) fn reader(
    path: &Path,
    format: Format,
) -> Result<image::ImageReader<BufReader<File>>, ImageError> {
    let fmt = match format {
        Format::Png => image::ImageFormat::Png,
        Format::Jpeg => image::ImageFormat::Jpeg,
        Format::Gif => image::ImageFormat::Gif,
        Format::WebP => image::ImageFormat::WebP,
        Format::Bmp => image::ImageFormat::Bmp,
        Format::Pnm => image::ImageFormat::Pnm,
        Format::Tiff | Format::Jpeg2000 => return Err(ImageError::UnknownFormat),
    };
    Ok(image::ImageReader::with_format(
        BufReader::new(File::open(path)?),
        fmt,
    ))
}

/// Decodes a single-image file, allocating no more than an image of `max_pixels` needs.
pub(crate) fn decode_limited(
    path: &Path,
    format: Format,
    max_pixels: u64,
) -> Result<image::DynamicImage, ImageError> {
    let mut r = reader(path, format)?;
    let mut limits = image::Limits::default();
    // Room for the largest layout (RGBA, 16 bits a sample) of an image within the limit.
    limits.max_alloc = Some(max_pixels.saturating_mul(8).max(1 << 20));
    r.limits(limits);
    r.decode().map_err(|e| decode_error(format, e))
}

fn raster_gray(path: &Path, format: Format, max_pixels: u64) -> Result<Vec<u8>, ImageError> {
    Ok(gray_over_white(decode_limited(path, format, max_pixels)?))
}

fn tiff_decoder(path: &Path) -> Result<tiff::decoder::Decoder<BufReader<File>>, ImageError> {
    tiff::decoder::Decoder::new(BufReader::new(File::open(path)?))
        .map_err(|e| decode_error(Format::Tiff, e))
}

fn tiff_pages(path: &Path) -> Result<Vec<PageInfo>, ImageError> {
    let mut d = tiff_decoder(path)?;
    let mut pages = Vec::new();
    loop {
        let (width, height) = d.dimensions().map_err(|e| decode_error(Format::Tiff, e))?;
        pages.push(PageInfo {
            width,
            height,
            dpi: tiff_dpi(&mut d),
        });
        if !d.more_images() || pages.len() >= MAX_TIFF_PAGES {
            break;
        }
        if let Err(e) = d.next_image() {
            // Pages read so far are still good; a broken chain ends the document.
            tracing::warn!(page = pages.len() + 1, error = %e, "TIFF page directory unreadable; stopping there");
            break;
        }
    }
    Ok(pages)
}

fn tiff_dpi(d: &mut tiff::decoder::Decoder<BufReader<File>>) -> Option<f32> {
    use tiff::decoder::ifd::Value;
    use tiff::tags::Tag;
    let x = match d.find_tag(Tag::XResolution).ok()?? {
        Value::Rational(n, den) if den != 0 => n as f32 / den as f32,
        v => v.into_f32().ok()?,
    };
    // ResolutionUnit: 1 none, 2 inch (the default), 3 centimetre.
    match d
        .find_tag_unsigned::<u16>(Tag::ResolutionUnit)
        .ok()
        .flatten()
        .unwrap_or(2)
    {
        2 => plausible(x),
        3 => plausible(x * 2.54),
        _ => None,
    }
}

fn tiff_gray(path: &Path, index: u32, max_pixels: u64) -> Result<Vec<u8>, ImageError> {
    tiff_pixels(path, index, max_pixels, false).map(|(_, v)| v)
}

/// Page `index` of a TIFF as gray (one sample a pixel) or, with `colour` and a colour
/// page, RGB (three); returns the samples a pixel and the pixels.
pub(crate) fn tiff_pixels(
    path: &Path,
    index: u32,
    max_pixels: u64,
    colour: bool,
) -> Result<(u8, Vec<u8>), ImageError> {
    use tiff::decoder::DecodingResult;
    use tiff::ColorType;
    let mut d = tiff_decoder(path)?;
    let mut limits = tiff::decoder::Limits::default();
    limits.decoding_buffer_size =
        usize::try_from(max_pixels.saturating_mul(8)).unwrap_or(usize::MAX);
    d = d.with_limits(limits);
    let err = |e: tiff::TiffError| decode_error(Format::Tiff, e);
    d.seek_to_image(index as usize).map_err(err)?;
    let (w, h) = d.dimensions().map_err(err)?;
    let (w, h) = (w as usize, h as usize);
    let kind = d.colortype().map_err(err)?;
    let palette = match kind {
        ColorType::Palette(_) => Some(d.get_tag_u32_vec(tiff::tags::Tag::ColorMap).map_err(err)?),
        _ => None,
    };
    let samples = match d.read_image().map_err(err)? {
        DecodingResult::U8(v) => v,
        // Sixteen-bit samples: the high byte (the order is native after decoding).
        DecodingResult::U16(v) => v.into_iter().map(|s| (s >> 8) as u8).collect(),
        _ => {
            return Err(ImageError::Unsupported {
                format: Format::Tiff,
                what: format!("{kind:?} with floating-point or 32-bit samples"),
            })
        }
    };
    let unsupported = || ImageError::Unsupported {
        format: Format::Tiff,
        what: format!("{kind:?}"),
    };
    let gray = |v: Vec<u8>| Ok((1, v));
    let rgb = |v: Vec<u8>| Ok((3, v));
    match kind {
        // The decoder has already turned WhiteIsZero into BlackIsZero.
        ColorType::Gray(b) if b < 8 => {
            let mut v = unpack(&samples, w, h, b);
            stretch(&mut v, b);
            gray(v)
        }
        ColorType::Gray(_) => gray(samples),
        ColorType::GrayA(8 | 16) => gray(interleaved_to_gray(&samples, 2, true, false)),
        ColorType::RGB(8 | 16) if colour => rgb(samples),
        ColorType::RGB(8 | 16) => gray(interleaved_to_gray(&samples, 3, false, false)),
        ColorType::RGBA(8 | 16) if colour => rgb(interleaved_to_rgb(&samples, 4, true, false)),
        ColorType::RGBA(8 | 16) => gray(interleaved_to_gray(&samples, 4, true, false)),
        ColorType::CMYK(8 | 16) if colour => rgb(interleaved_to_rgb(&samples, 4, false, true)),
        ColorType::CMYK(8 | 16) => gray(interleaved_to_gray(&samples, 4, false, true)),
        ColorType::CMYKA(8 | 16) if colour => rgb(interleaved_to_rgb(&samples, 5, true, true)),
        ColorType::CMYKA(8 | 16) => gray(interleaved_to_gray(&samples, 5, true, true)),
        ColorType::YCbCr(8) if colour => rgb(ycbcr_to_rgb(&samples)),
        // Luma is the first of the three.
        ColorType::YCbCr(8) => gray(samples.chunks_exact(3).map(|p| p[0]).collect()),
        ColorType::Palette(b) if b <= 8 => {
            let map = palette.unwrap_or_default();
            let n = 1usize << b;
            if map.len() < 3 * n {
                return Err(unsupported());
            }
            let idx = if b < 8 {
                unpack(&samples, w, h, b)
            } else {
                samples
            };
            // Colour map entries are 16-bit: reds, then greens, then blues.
            let entry = |i: usize| {
                let c = |k: usize| (map[k * n + i] >> 8) as u8;
                [c(0), c(1), c(2)]
            };
            if colour {
                let table: Vec<[u8; 3]> = (0..n).map(entry).collect();
                rgb(idx
                    .into_iter()
                    .flat_map(|i| table[i as usize % n])
                    .collect())
            } else {
                let table: Vec<u8> = (0..n)
                    .map(|i| {
                        let [r, g, b] = entry(i);
                        crate::gray::luma(r, g, b)
                    })
                    .collect();
                gray(idx.into_iter().map(|i| table[i as usize % n]).collect())
            }
        }
        _ => Err(unsupported()),
    }
}

fn jp2_image(data: &[u8]) -> Result<hayro_jpeg2000::Image<'_>, ImageError> {
    hayro_jpeg2000::Image::new(data, &hayro_jpeg2000::DecodeSettings::default())
        .map_err(|e| decode_error(Format::Jpeg2000, format!("{e:?}")))
}

fn jp2_gray(data: &[u8]) -> Result<Vec<u8>, ImageError> {
    jp2_pixels(data, false).map(|(_, v)| v)
}

/// A JPEG 2000 image as gray or, with `colour` and a colour image, RGB; returns the
/// samples a pixel and the pixels.
pub(crate) fn jp2_pixels(data: &[u8], colour: bool) -> Result<(u8, Vec<u8>), ImageError> {
    let img = jp2_image(data)?;
    let alpha = img.has_alpha();
    let cmyk = matches!(img.color_space(), hayro_jpeg2000::ColorSpace::CMYK);
    let channels = img.color_space().num_channels() as usize + usize::from(alpha);
    let colour_channels = img.color_space().num_channels();
    let mut ctx = hayro_jpeg2000::DecoderContext::default();
    let decoded = img
        .decode(&mut ctx)
        .map_err(|e| decode_error(Format::Jpeg2000, format!("{e:?}")))?;
    let samples = decoded.data_u8();
    Ok(if colour && colour_channels >= 3 {
        (3, interleaved_to_rgb(&samples, channels, alpha, cmyk))
    } else {
        (1, interleaved_to_gray(&samples, channels, alpha, cmyk))
    })
}
