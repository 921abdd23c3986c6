//! `pagemill upscale` and `erase-text --upscale-output`: outputs of the right size and
//! kind, the report, the per-page deadline, and clear errors for bad input and outputs
//! over the limit. (That the network equals Real-ESRGAN's own output, and that tiles
//! leave no seams, is tested in `pagemill-upscale`.)

mod common;

use std::path::{Path, PathBuf};

use common::{assert_valid_pdf, data, pagemill, read_json};
use serde_json::Value;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `pagemill upscale INPUTS -o out EXTRA… --quiet`.
fn upscale(inputs: &[PathBuf], out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["upscale".to_string()];
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    args.extend(["-o".into(), out.display().to_string(), "--quiet".into()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    pagemill(&refs)
}

fn report(out: &Path, stem: &str) -> Value {
    read_json(out.join(stem).join(format!("{stem}.upscale.json")))
}

/// Writes a `w`×`h` gray PNG with a few strokes on it.
fn strokes_png(path: &Path, w: u32, h: u32) {
    let img = image::GrayImage::from_fn(w, h, |x, y| {
        image::Luma([if (x / 3 + y / 5) % 4 == 0 { 20 } else { 240 }])
    });
    img.save(path).unwrap();
}

#[test]
fn an_image_comes_out_twice_as_large_with_its_report() {
    let out = tempfile::tempdir().unwrap();
    let input = data("kreuzberg_complex_document.png");
    let o = upscale(&[input], out.path(), &["--model", "compact"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stem = "kreuzberg_complex_document";
    let png = out.path().join(stem).join(format!("{stem}.x2.png"));
    let (w, h) = image::image_dimensions(&png).unwrap();
    assert_eq!((w, h), (1600, 1200));
    let r = report(out.path(), stem);
    assert_eq!(r["schema"], "pagemill.upscale/1");
    let page = &r["pages"][0];
    assert_eq!(page["status"], "ok");
    assert_eq!(page["model"], "compact");
    assert_eq!(page["scale"], 2);
    assert_eq!(page["source_width"], 800);
    assert_eq!(page["tiles"], 35, "800×600 in 128-pixel tiles: 7 × 5");
    assert!(page["ms"].as_u64().unwrap() > 0);
    // The workers' files are gone once the outputs are written.
    assert!(!out.path().join(stem).join(".pagemill-upscaled").exists());
}

#[test]
fn a_pdf_becomes_a_pdf_of_larger_pages() {
    let out = tempfile::tempdir().unwrap();
    let o = upscale(
        &[data("docling_multi_page.pdf")],
        out.path(),
        &[
            "--pages", "1-2", "--dpi", "50", "--scale", "3", "--model", "lanczos",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let stem = "docling_multi_page";
    let pdf = out.path().join(stem).join(format!("{stem}.x3.pdf"));
    assert_valid_pdf(&pdf, 2);
    let r = report(out.path(), stem);
    for page in r["pages"].as_array().unwrap() {
        assert_eq!(page["status"], "ok");
        assert_eq!(
            page["width"].as_u64().unwrap(),
            3 * page["source_width"].as_u64().unwrap()
        );
    }
    // The pictures are the PNGs' data under /FlateDecode with PNG predictors.
    let bytes = std::fs::read(&pdf).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert_eq!(text.matches("/Predictor 15").count(), 2);
}

#[test]
fn erase_text_upscales_first_in_the_same_pass() {
    let out = tempfile::tempdir().unwrap();
    let o = pagemill(&[
        "erase-text",
        data("kreuzberg_complex_document.png").to_str().unwrap(),
        "-o",
        out.path().to_str().unwrap(),
        "--upscale-output",
        "2",
        "--model",
        "lanczos",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stem = "kreuzberg_complex_document";
    let png = out.path().join(stem).join(format!("{stem}.erased.png"));
    assert_eq!(image::image_dimensions(&png).unwrap(), (1600, 1200));
    let r = read_json(out.path().join(stem).join(format!("{stem}.erased.json")));
    assert!(r["pages"][0]["pixels"].as_u64().unwrap() > 10_000, "{r}");
    // The erased boxes are where the upscaled page's words are (past the input's width).
    let widest = r["pages"][0]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b[2].as_u64().unwrap())
        .max()
        .unwrap();
    assert!(widest > 800, "boxes in the input's pixels? {widest}");
}

#[test]
fn a_slow_page_is_ended_by_the_deadline_and_the_rest_go_on() {
    let out = tempfile::tempdir().unwrap();
    let small = out.path().join("small.png");
    strokes_png(&small, 16, 16);
    // x4plus costs ~3,000 CPU-seconds per megapixel: the 0.48-megapixel page needs far
    // more than 10 s, the 16×16 one about a second.
    let o = upscale(
        &[data("kreuzberg_complex_document.png"), small],
        &out.path().join("out"),
        &["--model", "x4plus", "--scale", "4", "--page-timeout", "10"],
    );
    assert_eq!(o.status.code(), Some(3), "partial: {}", stderr(&o));
    let r = report(&out.path().join("out"), "kreuzberg_complex_document");
    assert_eq!(r["pages"][0]["status"], "failed");
    assert_eq!(r["pages"][0]["reason"], "timeout", "{r}");
    let r = report(&out.path().join("out"), "small");
    assert_eq!(r["pages"][0]["status"], "ok", "{r}");
    assert_eq!(r["pages"][0]["width"], 64);
}

#[test]
fn bad_input_and_outputs_over_the_limit_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    // A PNG cut short in its pixel data.
    let full = std::fs::read(data("kreuzberg_complex_document.png")).unwrap();
    let corrupt = dir.path().join("corrupt.png");
    std::fs::write(&corrupt, &full[..full.len() / 2]).unwrap();
    // A PNG whose header (its checksum right) claims a 0×0 picture.
    let mut zero = full[..33].to_vec();
    zero[16..24].copy_from_slice(&[0; 8]);
    let mut crc = flate2::Crc::new();
    crc.update(&zero[12..29]);
    zero[29..33].copy_from_slice(&crc.sum().to_be_bytes());
    zero.extend_from_slice(&full[full.len() - 12..]);
    let zero_path = dir.path().join("zero.png");
    std::fs::write(&zero_path, &zero).unwrap();
    let o = upscale(
        &[corrupt.clone(), zero_path],
        &dir.path().join("out"),
        &["--model", "lanczos"],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "nothing upscaled: {err}");
    assert!(err.contains("zero.png"), "{err}");
    let r = report(&dir.path().join("out"), "corrupt");
    let message = r["pages"][0]["message"].as_str().unwrap();
    assert!(message.contains("cannot decode"), "{message}");
    // The 800×600 page ×2 is 1.92 megapixels: over 1M, refused before any work.
    let o = upscale(
        &[data("kreuzberg_complex_document.png")],
        &dir.path().join("out"),
        &["--model", "lanczos", "--max-output-pixels", "1M"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = report(&dir.path().join("out"), "kreuzberg_complex_document");
    let message = r["pages"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("1600×1200") && message.contains("limit"),
        "{message}"
    );
    // x4plus has only a ×4 file.
    let o = upscale(&[corrupt], &dir.path().join("out2"), &["--model", "x4plus"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--scale 4"), "{}", stderr(&o));
}
