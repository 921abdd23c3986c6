//! Turning decoded pixels of any layout into 8-bit gray or RGB, transparent areas on white.

/// Luma of an RGB pixel (ITU-R BT.601 weights, as Leptonica and Tesseract use).
#[inline]
pub(crate) fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 299 + g as u32 * 587 + b as u32 * 114 + 500) / 1000) as u8
}

/// `v` drawn with opacity `a` over white: scans saved with an alpha channel are usually
/// black text on a transparent background, which must not turn into a black page.
#[inline]
pub(crate) fn over_white(v: u8, a: u8) -> u8 {
    let (v, a) = (v as u32, a as u32);
    ((v * a + 255 * (255 - a) + 127) / 255) as u8
}

/// An image as 8-bit gray, transparency laid over white.
pub(crate) fn gray_over_white(img: image::DynamicImage) -> Vec<u8> {
    if img.color().has_alpha() {
        img.to_luma_alpha8()
            .pixels()
            .map(|p| over_white(p.0[0], p.0[1]))
            .collect()
    } else {
        img.into_luma8().into_raw()
    }
}

/// An image as RGB bytes, transparency laid over white.
pub(crate) fn rgb_over_white(img: image::DynamicImage) -> Vec<u8> {
    if !img.color().has_alpha() {
        return img.into_rgb8().into_raw();
    }
    img.to_rgba8()
        .pixels()
        .flat_map(|p| {
            let a = p.0[3];
            [
                over_white(p.0[0], a),
                over_white(p.0[1], a),
                over_white(p.0[2], a),
            ]
        })
        .collect()
}

/// Gray from CMYK: ink adds up, black on top.
#[inline]
pub(crate) fn cmyk_gray(c: u8, m: u8, y: u8, k: u8) -> u8 {
    let ink = (c as u32 * 299 + m as u32 * 587 + y as u32 * 114) / 1000 + k as u32;
    255 - ink.min(255) as u8
}

/// Interleaved 8-bit samples (`channels` per pixel; `alpha` marks the last as opacity)
/// to gray. Three or more colour channels are RGB, four without alpha CMYK.
pub(crate) fn interleaved_to_gray(
    samples: &[u8],
    channels: usize,
    alpha: bool,
    cmyk: bool,
) -> Vec<u8> {
    let px = samples.chunks_exact(channels.max(1));
    match (channels, alpha, cmyk) {
        (1, _, _) => samples.to_vec(),
        (2, true, _) => px.map(|p| over_white(p[0], p[1])).collect(),
        (3, false, false) => px.map(|p| luma(p[0], p[1], p[2])).collect(),
        (4, true, false) => px
            .map(|p| over_white(luma(p[0], p[1], p[2]), p[3]))
            .collect(),
        (4, false, true) => px.map(|p| cmyk_gray(p[0], p[1], p[2], p[3])).collect(),
        (5, true, true) => px
            .map(|p| over_white(cmyk_gray(p[0], p[1], p[2], p[3]), p[4]))
            .collect(),
        // Anything else: the first channel is the best guess at brightness.
        _ => px.map(|p| p[0]).collect(),
    }
}

/// Interleaved 8-bit samples (`channels` per pixel; `alpha` marks the last as opacity)
/// to RGB. One or two channels are gray, four without alpha CMYK.
pub(crate) fn interleaved_to_rgb(
    samples: &[u8],
    channels: usize,
    alpha: bool,
    cmyk: bool,
) -> Vec<u8> {
    let px = samples.chunks_exact(channels.max(1));
    let rgb = |p: &[u8]| -> [u8; 3] {
        match (channels, cmyk) {
            (1 | 2, _) => [p[0]; 3],
            (4 | 5, true) => {
                // Ink subtracts from white, black on top of each colour.
                let k = 255 - u32::from(p[3]);
                let c = |v: u8| ((255 - u32::from(v)) * k / 255) as u8;
                [c(p[0]), c(p[1]), c(p[2])]
            }
            _ => [p[0], p[1], p[2]],
        }
    };
    px.flat_map(|p| {
        let [r, g, b] = rgb(p);
        if alpha {
            let a = p[channels - 1];
            [over_white(r, a), over_white(g, a), over_white(b, a)]
        } else {
            [r, g, b]
        }
    })
    .collect()
}

/// RGB from 8-bit YCbCr (JPEG's full-range BT.601).
pub(crate) fn ycbcr_to_rgb(samples: &[u8]) -> Vec<u8> {
    samples
        .chunks_exact(3)
        .flat_map(|p| {
            let (y, cb, cr) = (
                f32::from(p[0]),
                f32::from(p[1]) - 128.0,
                f32::from(p[2]) - 128.0,
            );
            let c = |v: f32| v.round().clamp(0.0, 255.0) as u8;
            [
                c(y + 1.402 * cr),
                c(y - 0.344_136 * cb - 0.714_136 * cr),
                c(y + 1.772 * cb),
            ]
        })
        .collect()
}

/// Rows of `bits`-bit samples (1, 2 or 4; each row padded to a byte, most significant
/// bits first) to one byte per sample holding the raw value (0 ..= 2^bits - 1).
/// `per_row` is samples per row; missing data reads as zero.
pub(crate) fn unpack(packed: &[u8], per_row: usize, rows: usize, bits: u8) -> Vec<u8> {
    let bits = bits.clamp(1, 8) as usize;
    let row_bytes = (per_row * bits).div_ceil(8);
    let mask = ((1u16 << bits) - 1) as u8;
    let mut out = Vec::with_capacity(per_row * rows);
    for row in packed.chunks(row_bytes.max(1)).take(rows) {
        for i in 0..per_row {
            let bit = i * bits;
            let byte = row.get(bit / 8).copied().unwrap_or(0);
            out.push((byte >> (8 - bits - bit % 8)) & mask);
        }
    }
    out.resize(per_row * rows, 0);
    out
}

/// Stretches `bits`-bit values to 0–255.
pub(crate) fn stretch(values: &mut [u8], bits: u8) {
    let max = ((1u16 << bits.clamp(1, 8)) - 1) as u32;
    for v in values {
        *v = (*v as u32 * 255 / max) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transparent_is_white_and_opaque_keeps_its_value() {
        assert_eq!(over_white(0, 0), 255);
        assert_eq!(over_white(0, 255), 0);
        assert_eq!(over_white(100, 255), 100);
        let g = interleaved_to_gray(&[0, 0, 0, 0, 0, 0, 0, 255], 4, true, false);
        assert_eq!(g, vec![255, 0]);
    }

    #[test]
    fn colour_and_ink_to_gray() {
        assert_eq!(luma(255, 255, 255), 255);
        assert_eq!(luma(0, 0, 0), 0);
        assert_eq!(cmyk_gray(0, 0, 0, 0), 255);
        assert_eq!(cmyk_gray(0, 0, 0, 255), 0);
    }

    #[test]
    fn colour_layouts_to_rgb() {
        // RGBA half transparent over white, CMYK pure cyan, gray.
        assert_eq!(
            interleaved_to_rgb(&[0, 0, 0, 0], 4, true, false),
            vec![255, 255, 255]
        );
        assert_eq!(
            interleaved_to_rgb(&[255, 0, 0, 0], 4, false, true),
            vec![0, 255, 255]
        );
        assert_eq!(interleaved_to_rgb(&[7], 1, false, false), vec![7, 7, 7]);
        assert_eq!(ycbcr_to_rgb(&[255, 128, 128]), vec![255, 255, 255]);
        assert_eq!(ycbcr_to_rgb(&[76, 85, 255]), vec![254, 0, 0]);
    }

    #[test]
    fn unpacks_padded_rows() {
        // 10 one-bit pixels a row: two bytes, the last six bits padding.
        let packed = [0b1000_0000, 0b0100_0000, 0b0000_0000, 0b1100_0000];
        let mut g = unpack(&packed, 10, 2, 1);
        assert_eq!(&g[..10], &[1, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(&g[10..], &[0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
        stretch(&mut g, 1);
        assert_eq!(g[0], 255);
        // Four-bit samples, three a row.
        let g = unpack(&[0x1f, 0x30], 3, 1, 4);
        assert_eq!(g, vec![1, 15, 3]);
    }
}
