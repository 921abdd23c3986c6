//! Figure crops: `OUT/IN/images/<page>_<n>.jpg`, referenced from the Markdown where the
//! figure stands, and `figure` blocks in the JSON and the detections.

mod common;

use common::{convert, data, read, read_json};

/// Width and height from a JPEG's first start-of-frame marker.
fn jpeg_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2;
    while i + 9 < bytes.len() {
        if bytes[i] != 0xFF {
            return None;
        }
        let marker = bytes[i + 1];
        let len = usize::from(bytes[i + 2]) << 8 | usize::from(bytes[i + 3]);
        if (0xC0..=0xC3).contains(&marker) {
            let h = u32::from(bytes[i + 5]) << 8 | u32::from(bytes[i + 6]);
            let w = u32::from(bytes[i + 7]) << 8 | u32::from(bytes[i + 8]);
            return Some((w, h));
        }
        i += 2 + len;
    }
    None
}

#[test]
fn embedded_pictures_are_cropped_at_their_own_resolution_and_referenced_in_place() {
    let out = tempfile::tempdir().unwrap();
    let o = convert(
        &[data("docling_picture_classification.pdf")],
        out.path(),
        &["--quiet"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dir = out.path().join("docling_picture_classification");
    // pdfimages -list: page 1 holds a 768×474 image at 161 ppi, page 2 a 401×534 one at
    // 168 ppi; each crop is rendered at its image's resolution, so it has about its size.
    for (name, (w, h)) in [("0_0.jpg", (768, 474)), ("1_0.jpg", (401, 534))] {
        let bytes = std::fs::read(dir.join("images").join(name)).expect(name);
        let (cw, ch) = jpeg_size(&bytes).expect("a JPEG");
        assert!(
            cw.abs_diff(w) <= 4 && ch.abs_diff(h) <= 4,
            "{name}: {cw}×{ch}, image {w}×{h}"
        );
    }
    let md = read(dir.join("docling_picture_classification.md"));
    let first = md
        .find("![](images/0_0.jpg)")
        .expect("first figure in the Markdown");
    let second = md
        .find("![](images/1_0.jpg)")
        .expect("second figure in the Markdown");
    assert!(first < second);
    let json = read_json(dir.join("docling_picture_classification.json"));
    let figures: Vec<&serde_json::Value> = json["pages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["blocks"].as_array().unwrap())
        .filter(|b| b["kind"] == "figure")
        .collect();
    assert_eq!(figures.len(), 2);
    assert_eq!(figures[0]["image"], "images/0_0.jpg");
    let det = read(dir.join("docling_picture_classification.det.md"));
    assert!(det.contains("<figure>[["));
    assert!(!dir.join(".pagemill-tmp").exists());

    // Without `images` in --format: figure blocks stay, no crops and no references.
    let out = tempfile::tempdir().unwrap();
    let o = convert(
        &[data("docling_picture_classification.pdf")],
        out.path(),
        &["--quiet", "--format", "md,json"],
    );
    assert!(o.status.success());
    let dir = out.path().join("docling_picture_classification");
    assert!(!dir.join("images").exists());
    assert!(!read(dir.join("docling_picture_classification.md")).contains("![]("));
}

#[test]
fn an_image_region_found_by_ocr_is_cropped() {
    let out = tempfile::tempdir().unwrap();
    let o = convert(
        &[data("kreuzberg_flower_no_text.jpg")],
        out.path(),
        &["--quiet"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dir = out.path().join("kreuzberg_flower_no_text");
    let bytes = std::fs::read(dir.join("images/0_0.jpg")).expect("a crop");
    let (w, h) = jpeg_size(&bytes).expect("a JPEG");
    // The photo is 480×360; Tesseract's picture region covers it.
    assert!(w >= 400 && h >= 300, "{w}×{h}");
    assert!(read(dir.join("kreuzberg_flower_no_text.md")).contains("![](images/0_0.jpg)"));
}
