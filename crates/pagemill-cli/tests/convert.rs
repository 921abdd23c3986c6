//! End-to-end tests of `pagemill convert` on real documents (see tests/data/SOURCES.md).
//!
//! They run the built binary, which starts real worker processes with PDFium; run
//! `scripts/setup` first (the README's test command does).

use pagemill_core::textsim::{order_ratio, word_f1, words};
use serde_json::Value;

use std::path::PathBuf;
use std::process::Command;

mod common;
use common::{assert_valid_pdf, convert, data, pagemill, read};

/// Reference similarity on the docling documents that come with reference Markdown.
///
/// Thresholds: `pdftotext -raw` (poppler 22.12) on the same four files scores word F1
/// 0.966–0.998 and order 0.754–0.998. We require every file to reach F1 ≥ 0.95 and order
/// ≥ 0.90 — at least pdftotext's typical level on each, with a little room for the
/// reference's own choices (docling writes formulas as comments and moves captions).
/// pagemill measured 0.973–0.998 / 0.917–0.997 when these thresholds were set.
#[test]
fn markdown_matches_reference_documents() {
    let names = [
        "docling_code_and_formula",
        "docling_multi_page",
        "docling_normal_4pages",
        "docling_amt_handbook_sample",
    ];
    let out = tempfile::tempdir().unwrap();
    let inputs: Vec<PathBuf> = names.iter().map(|n| data(&format!("{n}.pdf"))).collect();
    let o = convert(&inputs, out.path(), &["--quiet"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for n in names {
        let md = read(out.path().join(n).join(format!("{n}.md")));
        let reference = read(data(&format!("{n}.gt.md")));
        let (got, want) = (words(&md), words(&reference));
        let f1 = word_f1(&got, &want);
        let order = order_ratio(&got, &want);
        eprintln!("{n}: word F1 {f1:.3}, order {order:.3}");
        assert!(f1 >= 0.95, "{n}: word F1 {f1:.3} < 0.95");
        assert!(order >= 0.90, "{n}: order {order:.3} < 0.90");
    }
}

#[test]
fn outputs_follow_the_documented_schema() {
    let out = tempfile::tempdir().unwrap();
    let o = convert(&[data("camlidl-manual.pdf")], out.path(), &["--quiet"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dir = out.path().join("camlidl-manual");
    let json: Value = serde_json::from_str(&read(dir.join("camlidl-manual.json"))).unwrap();
    assert_eq!(json["schema"], "pagemill.document/1");
    assert_eq!(json["info"]["page_count"], 26);
    let pages = json["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 26);
    assert_eq!(json["summary"]["ok"], 26);
    let kinds = [
        "heading",
        "paragraph",
        "list_item",
        "code",
        "footnote",
        "toc",
        "table",
        "page_header",
        "page_footer",
        "page_number",
    ];
    for (i, p) in pages.iter().enumerate() {
        assert_eq!(p["index"], i, "pages in order");
        assert_eq!(p["status"], "ok");
        let (w, h) = (p["width"].as_f64().unwrap(), p["height"].as_f64().unwrap());
        for b in p["blocks"].as_array().unwrap() {
            assert!(kinds.contains(&b["kind"].as_str().unwrap()), "{b}");
            let bb: Vec<f64> = b["bbox"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert!(bb[0] <= bb[2] && bb[1] <= bb[3], "{b}");
            assert!(
                bb[0] >= -1.0 && bb[2] <= w + 1.0 && bb[1] >= -1.0 && bb[3] <= h + 1.0,
                "box off page: {b}"
            );
            assert_eq!(b["confidence"], 1.0);
        }
    }
    // Page numbers are kept in JSON, marked, and left out of the Markdown.
    let numbers = pages
        .iter()
        .flat_map(|p| p["blocks"].as_array().unwrap())
        .filter(|b| b["kind"] == "page_number")
        .count();
    assert!(numbers >= 20, "most pages carry a page number: {numbers}");
    let md = read(dir.join("camlidl-manual.md"));
    assert!(md.contains("## 1 Overview"), "section headings");
    assert!(
        md.contains("### 1.1 What is IDL?"),
        "subsection headings, a level per number"
    );
    assert!(
        md.contains("```\nint f([in,string] char * msg);\n```"),
        "code kept verbatim"
    );
    assert!(!md.lines().any(|l| l.trim() == "2"), "page numbers dropped");
    // A sentence broken by a page break is joined; the footnote between goes after it,
    // as a Markdown footnote its mark refers to.
    assert!(
        md.contains("\n[^1]: http://caml.inria.fr/ocaml/htmlman/index.html"),
        "footnote kept"
    );
    assert!(md.contains("reference manual[^1]"), "footnote reference");
    assert!(
        md.contains("used in other programs, either by dynamic linking"),
        "cross-page join"
    );
    let det = read(dir.join("camlidl-manual.det.md"));
    assert_eq!(det.matches("<--- Page Split --->").count(), 25);
    assert!(det.contains("<heading2>[["), "det kinds with levels");
    assert!(!dir.join(".pagemill-tmp").exists(), "temp dir removed");
}

#[test]
fn multi_column_pages_read_column_by_column_and_dehyphenate() {
    let out = tempfile::tempdir().unwrap();
    let o = convert(
        &[data("pypdf_multicolumn.pdf")],
        out.path(),
        &["--quiet", "--format", "md"],
    );
    assert!(o.status.success());
    let md = read(out.path().join("pypdf_multicolumn/pypdf_multicolumn.md"));
    let left_end = md
        .find("Duis eget orci sit amet orci dignissim rutrum.")
        .expect("left column");
    let right_start = md
        .find("pellentesque ante. Phasellus adipiscing semper elit.")
        .expect("right column");
    assert!(left_end < right_start, "left column before right column");
    assert!(
        md.contains("consectetuer adipiscing elit"),
        "line-break hyphens removed"
    );
    assert!(
        !out.path()
            .join("pypdf_multicolumn/pypdf_multicolumn.json")
            .exists(),
        "--format md only"
    );
}

#[test]
fn page_ranges_select_pages() {
    let out = tempfile::tempdir().unwrap();
    let o = convert(
        &[data("camlidl-manual.pdf")],
        out.path(),
        &["--quiet", "--pages", "2-3,26,40-"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: Value =
        serde_json::from_str(&read(out.path().join("camlidl-manual/camlidl-manual.json"))).unwrap();
    let idx: Vec<u64> = json["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["index"].as_u64().unwrap())
        .collect();
    assert_eq!(idx, vec![1, 2, 25]);
    let bad = convert(
        &[data("camlidl-manual.pdf")],
        out.path(),
        &["--pages", "3-1"],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--pages"));
}

#[test]
fn bad_files_fail_alone_with_one_line_each() {
    let out = tempfile::tempdir().unwrap();
    let inputs = [
        data("qpdf_bad1_5bytes.pdf"),
        data("docling_multi_page.pdf"),
        data("pdfplumber_empty_0bytes.pdf"),
        data("no_such_file.pdf"),
    ];
    let o = convert(&inputs, out.path(), &[]);
    assert_eq!(o.status.code(), Some(3), "partial failure exit code");
    let err = String::from_utf8_lossy(&o.stderr);
    for name in [
        "qpdf_bad1_5bytes.pdf",
        "pdfplumber_empty_0bytes.pdf",
        "no_such_file.pdf",
    ] {
        let lines: Vec<&str> = err.lines().filter(|l| l.contains(name)).collect();
        assert_eq!(lines.len(), 1, "one line for {name}:\n{err}");
    }
    assert!(err.contains("empty"), "says the file is empty:\n{err}");
    assert!(out
        .path()
        .join("docling_multi_page/docling_multi_page.md")
        .exists());
    assert!(!out
        .path()
        .join("qpdf_bad1_5bytes/qpdf_bad1_5bytes.md")
        .exists());
    assert!(!out.path().join("qpdf_bad1_5bytes/.pagemill-tmp").exists());
    // Nothing convertible at all: exit 1.
    let o = convert(&[data("qpdf_bad1_5bytes.pdf")], out.path(), &["--quiet"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn json_progress_is_one_event_per_line() {
    let out = tempfile::tempdir().unwrap();
    let o = convert(
        &[
            data("docling_normal_4pages.pdf"),
            data("docling_multi_page.pdf"),
        ],
        out.path(),
        &["--progress", "json"],
    );
    assert!(o.status.success());
    let events: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let count = |kind: &str| events.iter().filter(|e| e["event"] == kind).count();
    assert_eq!(count("file_started"), 2);
    assert_eq!(count("page"), 9);
    assert_eq!(count("file_finished"), 2);
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["pages_ok"], 9);
    assert!(summary["peak_rss_bytes"].as_u64().unwrap() > 0);
    // Pages of one file are reported in order.
    let pages: Vec<u64> = events
        .iter()
        .filter(|e| {
            e["event"] == "page"
                && e["file"]
                    .as_str()
                    .unwrap()
                    .ends_with("docling_normal_4pages.pdf")
        })
        .map(|e| e["page"].as_u64().unwrap())
        .collect();
    assert_eq!(pages, vec![1, 2, 3, 4]);
}

#[test]
fn directories_are_searched_recursively() {
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("a/b")).unwrap();
    std::fs::copy(
        data("docling_multi_page.pdf"),
        src.path().join("a/b/one.pdf"),
    )
    .unwrap();
    std::fs::copy(data("pypdf_multicolumn.pdf"), src.path().join("a/two.PDF")).unwrap();
    std::fs::write(src.path().join("a/notes.txt"), "not a pdf").unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = convert(&[src.path().to_path_buf()], out.path(), &["--quiet"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.path().join("one/one.md").exists());
    assert!(out.path().join("two/two.md").exists());
}

#[test]
fn help_documents_exit_codes_and_missing_pdfium_is_explained() {
    let o = pagemill(&["--help"]);
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(help.contains("Exit codes") && help.contains("PAGEMILL_PDFIUM"));

    let out = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_pagemill"))
        .args([
            "convert",
            &data("docling_multi_page.pdf").display().to_string(),
            "-o",
        ])
        .arg(out.path())
        .env("PAGEMILL_PDFIUM", "/nonexistent/libpdfium.so")
        .env("HOME", out.path())
        .env_remove("PAGEMILL_HOME")
        .output()
        .unwrap();
    // Other default locations may hold a real library; only check the message when none does.
    if o.status.code() == Some(1) {
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("scripts/setup") && err.contains("PAGEMILL_PDFIUM"),
            "{err}"
        );
    }
}

/// The layout PDF (on by default): a valid PDF (qpdf --check) with the input's pages
/// (pdfinfo), for a born-digital document and a scan, written while pages stream;
/// `--no-layout-pdf` leaves it out.
#[test]
fn layout_pdf_is_valid_and_has_every_page() {
    let out = tempfile::tempdir().unwrap();
    let o = convert(
        &[data("camlidl-manual.pdf"), data("tess_phototest.tif")],
        out.path(),
        &["--quiet", "--pages", "1-3"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for (name, pages) in [("camlidl-manual", 3), ("tess_phototest", 1)] {
        let pdf = out.path().join(name).join(format!("{name}.layouts.pdf"));
        assert_valid_pdf(&pdf, pages);
    }
    let out = tempfile::tempdir().unwrap();
    let o = convert(
        &[data("camlidl-manual.pdf")],
        out.path(),
        &["--quiet", "--pages", "1", "--no-layout-pdf"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dir = out.path().join("camlidl-manual");
    assert!(dir.join("camlidl-manual.md").exists());
    assert!(!dir.join("camlidl-manual.layouts.pdf").exists());
}
