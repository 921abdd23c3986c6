//! `pagemill erase-text`: the text of a page goes (OCR reads almost none of it back) and
//! everything else stays (pixels outside the erased boxes are the input's, table rules
//! inside them too).

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use common::{assert_valid_pdf, convert, data, pagemill, read, read_json};
use pagemill_core::textsim::words;

/// Runs `erase-text` on `input` into `out`.
fn erase(input: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "erase-text".to_string(),
        input.display().to_string(),
        "-o".into(),
        out.display().to_string(),
        "--jobs".into(),
        "2".into(),
        "--quiet".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = pagemill(&refs);
    assert!(
        o.status.success(),
        "erase-text {}: {}",
        input.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The distinct words (two letters or digits and more) OCR reads in `input`.
fn ocr_words(input: &Path, out: &Path) -> HashSet<String> {
    let o = convert(
        &[input.to_path_buf()],
        out,
        &["--format", "md", "--ocr", "always", "--quiet"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stem = input.file_stem().unwrap().to_string_lossy().into_owned();
    words(&read(out.join(&stem).join(format!("{stem}.md"))))
        .into_iter()
        .filter(|w| w.chars().count() >= 2)
        .collect()
}

/// Share of `before`'s words that are still in `after`.
fn still_read(before: &HashSet<String>, after: &HashSet<String>) -> f64 {
    before.intersection(after).count() as f64 / before.len().max(1) as f64
}

fn output(out: &Path, stem: &str, ext: &str) -> PathBuf {
    out.join(stem).join(format!("{stem}.{ext}"))
}

#[test]
fn a_report_image_loses_its_words_and_keeps_its_table_and_untouched_pixels() {
    let input = data("kreuzberg_complex_document.png");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("erased");
    erase(&input, &out, &[]);
    let stem = "kreuzberg_complex_document";
    let erased_png = output(&out, stem, "erased.png");

    let before = ocr_words(&input, &dir.path().join("before"));
    assert!(before.len() >= 30, "the original reads: {before:?}");
    let after = ocr_words(&erased_png, &dir.path().join("after"));
    let share = still_read(&before, &after);
    assert!(share < 0.05, "{:.1} % still read: {after:?}", share * 100.0);

    let was = image::open(&input).unwrap().into_rgb8();
    let now = image::open(&erased_png).unwrap().into_rgb8();
    assert_eq!(was.dimensions(), now.dimensions());
    let report = read_json(output(&out, stem, "erased.json"));
    assert_eq!(report["schema"], "pagemill.erased/1");
    let page = &report["pages"][0];
    assert_eq!(page["status"], "ok");
    let regions: Vec<[u32; 4]> = serde_json::from_value(page["regions"].clone()).unwrap();
    assert!(!regions.is_empty());
    let erased = |x: u32, y: u32| {
        regions
            .iter()
            .any(|r| x >= r[0] && x < r[2] && y >= r[1] && y < r[3])
    };
    let mut changed_inside = 0u64;
    for (x, y, p) in was.enumerate_pixels() {
        let q = now.get_pixel(x, y);
        if erased(x, y) {
            changed_inside += u64::from(p != q);
        } else {
            assert_eq!(p, q, "pixel ({x}, {y}) outside every erased box changed");
        }
    }
    assert!(changed_inside > 1000, "only {changed_inside} pixels erased");
    assert!(page["pixels"].as_u64().unwrap() >= changed_inside);

    // The tables' rules are not text: every dark pixel on a long horizontal run (a rule)
    // is still dark, inside the erased boxes too.
    let dark = |p: &image::Rgb<u8>| p.0.iter().all(|&c| c < 100);
    let (w, h) = was.dimensions();
    let (mut rule_px, mut kept) = (0u32, 0u32);
    for y in 0..h {
        let mut x = 0;
        while x < w {
            let start = x;
            while x < w && dark(was.get_pixel(x, y)) {
                x += 1;
            }
            if x - start >= 60 {
                rule_px += x - start;
                kept += (start..x).filter(|&x| dark(now.get_pixel(x, y))).count() as u32;
            }
            x += 1;
        }
    }
    assert!(rule_px > 1000, "the tables have rules: {rule_px}");
    assert!(
        f64::from(kept) >= 0.98 * f64::from(rule_px),
        "{kept} of {rule_px} rule pixels kept"
    );
}

#[test]
fn a_scanned_pdf_page_comes_out_as_a_pdf_without_its_words() {
    let input = data("ocrmypdf_linn.pdf");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("erased");
    erase(&input, &out, &[]);
    let pdf = output(&out, "ocrmypdf_linn", "erased.pdf");
    assert_valid_pdf(&pdf, 1);
    let before = ocr_words(&input, &dir.path().join("before"));
    assert!(before.len() >= 200, "the scan reads {} words", before.len());
    let after = ocr_words(&pdf, &dir.path().join("after"));
    let share = still_read(&before, &after);
    assert!(share < 0.05, "{:.1} % still read: {after:?}", share * 100.0);
    let report = read_json(output(&out, "ocrmypdf_linn", "erased.json"));
    let words = report["pages"][0]["words"].as_array().unwrap().clone();
    assert!(words[0].as_u64().unwrap() >= 300, "{words:?}");
}

#[test]
fn a_photo_without_text_is_left_alone() {
    let input = data("kreuzberg_flower_no_text.jpg");
    let dir = tempfile::tempdir().unwrap();
    erase(&input, dir.path(), &[]);
    let stem = "kreuzberg_flower_no_text";
    // JPEG in, JPEG out.
    let jpg = std::fs::read(output(dir.path(), stem, "erased.jpg")).unwrap();
    assert!(jpg.starts_with(&[0xFF, 0xD8]));
    let report = read_json(output(dir.path(), stem, "erased.json"));
    let page = &report["pages"][0];
    let area = page["width"].as_u64().unwrap() * page["height"].as_u64().unwrap();
    let pixels = page["pixels"].as_u64().unwrap();
    assert!(
        pixels * 1000 <= area,
        "{pixels} of {area} pixels of a photo without text were changed"
    );
}
