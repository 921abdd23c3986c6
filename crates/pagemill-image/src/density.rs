//! Resolution recorded in image headers.
//!
//! The `image` crate decodes pixels but does not report the resolution a scan was made
//! at, and OCR needs it (page size in points, whether to upscale, Tesseract's size
//! priors). The few header fields involved are read here directly: PNG `pHYs`, JFIF
//! `APP0` density and the BMP header. TIFF resolution comes from the `tiff` decoder.

/// Resolutions outside this range are treated as unknown: they are placeholders (0, 1)
/// or nonsense rather than a real scan resolution.
const PLAUSIBLE_DPI: std::ops::RangeInclusive<f32> = 10.0..=10_000.0;

/// Keeps a resolution only when it is plausible.
pub(crate) fn plausible(dpi: f32) -> Option<f32> {
    PLAUSIBLE_DPI.contains(&dpi).then_some(dpi)
}

/// Horizontal resolution from a PNG's `pHYs` chunk (before the first `IDAT`), if it is
/// given in pixels per metre.
pub(crate) fn png_dpi(data: &[u8]) -> Option<f32> {
    let mut at = 8usize;
    while at + 12 <= data.len() {
        let len = u32::from_be_bytes(data[at..at + 4].try_into().ok()?) as usize;
        let kind = &data[at + 4..at + 8];
        let body = data.get(at + 8..at.checked_add(8)?.checked_add(len)?)?;
        match kind {
            b"pHYs" if body.len() >= 9 => {
                let ppm = u32::from_be_bytes(body[0..4].try_into().ok()?);
                // Unit 1 is the metre; 0 only gives an aspect ratio.
                return (body[8] == 1)
                    .then_some(ppm as f32 * 0.0254)
                    .and_then(plausible);
            }
            b"IDAT" | b"IEND" => return None,
            _ => {}
        }
        at = at.checked_add(12)?.checked_add(len)?;
    }
    None
}

/// Horizontal resolution from a JPEG's JFIF `APP0` segment, if its unit is inches or
/// centimetres.
pub(crate) fn jpeg_dpi(data: &[u8]) -> Option<f32> {
    let mut at = 2usize;
    while at + 4 <= data.len() {
        if data[at] != 0xff {
            return None;
        }
        let marker = data[at + 1];
        let len = u16::from_be_bytes([data[at + 2], data[at + 3]]) as usize;
        // Start of scan: the headers are over.
        if marker == 0xda {
            return None;
        }
        let body = data.get(at + 4..at + 2 + len)?;
        if marker == 0xe0 && body.len() >= 12 && body.starts_with(b"JFIF\0") {
            let x = u16::from_be_bytes([body[8], body[9]]) as f32;
            return match body[7] {
                1 => plausible(x),
                2 => plausible(x * 2.54),
                _ => None,
            };
        }
        at += 2 + len;
    }
    None
}

/// Horizontal resolution from a BMP header (pixels per metre).
pub(crate) fn bmp_dpi(data: &[u8]) -> Option<f32> {
    let ppm = i32::from_le_bytes(data.get(38..42)?.try_into().ok()?);
    plausible(ppm as f32 * 0.0254)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_png_phys() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(b"IHDR");
        png.extend_from_slice(&[0; 13 + 4]);
        png.extend_from_slice(&9u32.to_be_bytes());
        png.extend_from_slice(b"pHYs");
        png.extend_from_slice(&11811u32.to_be_bytes());
        png.extend_from_slice(&11811u32.to_be_bytes());
        png.push(1);
        png.extend_from_slice(&[0; 4]);
        let dpi = png_dpi(&png).unwrap();
        assert!((dpi - 300.0).abs() < 0.1, "{dpi}");
        // Unit 0 is only an aspect ratio.
        let n = png.len();
        png[n - 5] = 0;
        assert_eq!(png_dpi(&png), None);
    }

    #[test]
    fn reads_jfif_density() {
        let mut jpg = vec![0xff, 0xd8, 0xff, 0xe0, 0, 16];
        jpg.extend_from_slice(b"JFIF\0\x01\x02\x01\x00\xc8\x00\xc8\0\0");
        assert_eq!(jpeg_dpi(&jpg), Some(200.0));
        jpg[13] = 0; // unit 0: aspect ratio only
        assert_eq!(jpeg_dpi(&jpg), None);
        assert_eq!(jpeg_dpi(&[0xff, 0xd8, 0xff]), None);
    }
}
