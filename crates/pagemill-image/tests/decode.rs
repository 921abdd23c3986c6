//! Decoding real files and a multi-page TIFF into gray pages.

use std::path::PathBuf;

use pagemill_image::{Format, ImageDocument, ImageError};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(name)
}

fn mean(px: &[u8]) -> f64 {
    px.iter().map(|&p| p as f64).sum::<f64>() / px.len() as f64
}

#[test]
fn bilevel_tiff_is_white_paper_with_black_text() {
    let doc = ImageDocument::open(&data("tess_phototest.tif")).unwrap();
    assert_eq!(doc.format(), Format::Tiff);
    assert_eq!(doc.page_count(), 1);
    let page = doc.decode_gray(0, 150_000_000).unwrap();
    assert_eq!((page.width, page.height, page.dpi), (640, 480, Some(200.0)));
    // Paper dominates; a few percent of pixels are ink.
    let ink = page.pixels.iter().filter(|&&p| p == 0).count() as f64 / page.pixels.len() as f64;
    assert!(
        mean(&page.pixels) > 200.0 && ink > 0.02 && ink < 0.2,
        "ink {ink}"
    );
}

#[test]
fn jpeg2000_matches_the_rendering_of_the_same_stream() {
    let doc = ImageDocument::open(&data("ocrmypdf_lichtenstein.jp2")).unwrap();
    assert_eq!(doc.format(), Format::Jpeg2000);
    let page = doc.decode_gray(0, 150_000_000).unwrap();
    assert_eq!((page.width, page.height), (512, 512));
    // Poppler renders the PDF holding this stream with a mean gray of 33.1.
    assert!(
        (mean(&page.pixels) - 33.1).abs() < 1.5,
        "{}",
        mean(&page.pixels)
    );
}

#[test]
fn every_page_of_a_multi_page_tiff_and_the_pixel_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("three.tif");
    {
        let file = std::fs::File::create(&path).unwrap();
        let mut enc = tiff::encoder::TiffEncoder::new(file).unwrap();
        for (i, (w, h)) in [(40u32, 30u32), (50, 20), (2000, 2000)]
            .into_iter()
            .enumerate()
        {
            let px: Vec<u8> = (0..w * h)
                .map(|n| ((n as usize + i * 50) % 256) as u8)
                .collect();
            enc.write_image::<tiff::encoder::colortype::Gray8>(w, h, &px)
                .unwrap();
        }
    }
    let doc = ImageDocument::open(&path).unwrap();
    assert_eq!(doc.page_count(), 3);
    let second = doc.decode_gray(1, 1_000_000).unwrap();
    assert_eq!((second.width, second.height), (50, 20));
    assert_eq!(second.pixels[0], 50);
    // The third page is over a 1-megapixel limit: refused before decoding.
    match doc.decode_gray(2, 1_000_000) {
        Err(ImageError::TooLarge {
            width: 2000,
            height: 2000,
            ..
        }) => {}
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(matches!(
        doc.decode_gray(3, 1_000_000),
        Err(ImageError::NoPage(4))
    ));
}

#[test]
fn other_files_are_not_images() {
    assert!(matches!(
        ImageDocument::open(&data("camlidl-manual.pdf")),
        Err(ImageError::UnknownFormat)
    ));
}

#[test]
fn colour_pages_keep_their_colour() {
    // An RGB TIFF with a red square on white, written with the tiff crate.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("red.tif");
    let (w, h) = (16u32, 8u32);
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    for y in 2..6 {
        for x in 4..8 {
            let at = ((y * w + x) * 3) as usize;
            rgb[at..at + 3].copy_from_slice(&[200, 10, 20]);
        }
    }
    let file = std::fs::File::create(&path).unwrap();
    tiff::encoder::TiffEncoder::new(file)
        .unwrap()
        .write_image::<tiff::encoder::colortype::RGB8>(w, h, &rgb)
        .unwrap();
    let doc = ImageDocument::open(&path).unwrap();
    let page = doc.decode_colour(0, 1_000_000).unwrap();
    assert_eq!((page.width, page.height, page.channels), (w, h, 3));
    assert_eq!(page.pixels, rgb);
    let crop = doc.crop_rgb(0, [4, 2, 8, 6], 1_000_000).unwrap();
    assert!(crop.pixels.chunks(3).all(|p| p == [200, 10, 20]));

    // A gray JPEG 2000 (pdfimages: gray, 1 component) and a bilevel TIFF stay one sample
    // a pixel.
    let doc = ImageDocument::open(&data("ocrmypdf_lichtenstein.jp2")).unwrap();
    assert_eq!(doc.decode_colour(0, 150_000_000).unwrap().channels, 1);
    let doc = ImageDocument::open(&data("tess_phototest.tif")).unwrap();
    assert_eq!(doc.decode_colour(0, 150_000_000).unwrap().channels, 1);
}
