//! Telling formats apart by their first bytes (extensions lie; magic numbers rarely do).

use std::fmt;

/// A raster format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// PNG.
    Png,
    /// JPEG (JFIF or EXIF).
    Jpeg,
    /// TIFF, classic or BigTIFF, one or more pages.
    Tiff,
    /// GIF (the first frame).
    Gif,
    /// WebP.
    WebP,
    /// Windows bitmap.
    Bmp,
    /// PBM/PGM/PPM, binary or ASCII.
    Pnm,
    /// JPEG 2000, JP2 container or raw codestream.
    Jpeg2000,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Png => "PNG",
            Format::Jpeg => "JPEG",
            Format::Tiff => "TIFF",
            Format::Gif => "GIF",
            Format::WebP => "WebP",
            Format::Bmp => "BMP",
            Format::Pnm => "PNM",
            Format::Jpeg2000 => "JPEG 2000",
        })
    }
}

/// The format of a file that starts with `head` (16 bytes are enough), if it is an image.
pub fn sniff(head: &[u8]) -> Option<Format> {
    let starts = |m: &[u8]| head.starts_with(m);
    if starts(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if starts(b"\xff\xd8\xff") {
        Some(Format::Jpeg)
    } else if starts(b"II*\0") || starts(b"MM\0*") || starts(b"II+\0") || starts(b"MM\0+") {
        Some(Format::Tiff)
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some(Format::Gif)
    } else if starts(b"RIFF") && head.get(8..12) == Some(b"WEBP") {
        Some(Format::WebP)
    } else if starts(b"BM") && head.len() >= 14 {
        Some(Format::Bmp)
    } else if starts(b"\0\0\0\x0cjP  \r\n\x87\n") || starts(b"\xff\x4f\xff\x51") {
        Some(Format::Jpeg2000)
    } else if head.len() >= 3
        && head[0] == b'P'
        && (b'1'..=b'6').contains(&head[1])
        && head[2].is_ascii_whitespace()
    {
        Some(Format::Pnm)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_formats_by_magic() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0"), Some(Format::Png));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF"), Some(Format::Jpeg));
        assert_eq!(sniff(b"II*\0\x08\0\0\0"), Some(Format::Tiff));
        assert_eq!(sniff(b"MM\0*\0\0\0\x08"), Some(Format::Tiff));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(Format::WebP));
        assert_eq!(sniff(b"\0\0\0\x0cjP  \r\n\x87\n\0"), Some(Format::Jpeg2000));
        assert_eq!(sniff(b"P4\n10 10\n"), Some(Format::Pnm));
        assert_eq!(sniff(b"%PDF-1.7\n"), None);
        assert_eq!(sniff(b"PK\x03\x04"), None);
        assert_eq!(sniff(b""), None);
    }
}
