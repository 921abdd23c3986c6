//! `pagemill sections` and `pagemill split` on real outlines (issue 18): nested bookmarks
//! with named destinations, a bookmark pointing nowhere, a document without an outline,
//! page ranges and sections files, headings found by converting, and split PDFs checked
//! by qpdf and pdfinfo.

mod common;

use common::*;
use serde_json::Value;

fn sections_json(args: &[&str]) -> Value {
    let mut all = vec!["sections", "--json"];
    all.extend_from_slice(args);
    let o = pagemill(&all);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("JSON")
}

/// (first, last, path) of each section.
fn spans(v: &Value) -> Vec<(u64, u64, Vec<String>)> {
    v["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["first"].as_u64().unwrap(),
                s["last"].as_u64().unwrap(),
                s["path"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn a_nested_outline_gives_sections_that_cover_every_page_at_each_depth() {
    let pdf = data("freefem-manual.pdf");
    let top = sections_json(&[pdf.to_str().unwrap()]);
    assert_eq!(top["pages"], 50);
    assert_eq!(top["rule"], "outline:1");
    let s = spans(&top);
    let titles: Vec<&str> = s.iter().map(|x| x.2.last().unwrap().as_str()).collect();
    assert_eq!(titles[0], "Front matter");
    assert!(titles.contains(&"Introduction"), "{titles:?}");
    assert!(titles.contains(&"The Gory Details"), "{titles:?}");
    // Contiguous from the first page to the last: nothing lost, nothing twice.
    assert_eq!(s[0].0, 1);
    assert_eq!(s.last().unwrap().1, 50);
    for w in s.windows(2) {
        assert_eq!(w[1].0, w[0].1 + 1, "{s:?}");
    }
    // Deeper: more sections, each under its chapter.
    let deep = sections_json(&["--sections", "outline:2", pdf.to_str().unwrap()]);
    let d = spans(&deep);
    assert!(d.len() > s.len() + 5, "{} vs {}", d.len(), s.len());
    assert!(d
        .iter()
        .any(|x| x.2 == ["The Gory Details".to_string(), "Programs".to_string()]));
    assert_eq!(d.last().unwrap().1, 50);
    for w in d.windows(2) {
        assert!(w[1].0 >= w[0].0 && w[1].0 <= w[0].1 + 1, "{d:?}");
    }
    // The table lists the same, one line each.
    let o = pagemill(&["sections", pdf.to_str().unwrap()]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("6 sections (outline:1), 50 pages"),
        "{table}"
    );
    assert!(table.contains("s2  5-6    Introduction"), "{table}");
}

#[test]
fn a_bookmark_that_points_nowhere_is_skipped_with_a_note_and_its_children_keep_its_title() {
    let pdf = data("pdfplumber_duplicate_chars.pdf");
    // At depth 1 the only bookmark points at no page: a clear error, not an empty list.
    let o = pagemill(&["sections", pdf.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("none of the document's 1 bookmarks points at a page"),
        "{err}"
    );
    let v = sections_json(&["--sections", "outline:2", pdf.to_str().unwrap()]);
    let s = spans(&v);
    assert_eq!(s.len(), 9);
    assert_eq!(s[0].2, ["巴哈v", "项目吊称一1"]);
    assert_eq!((s[6].0, s[6].1), (2, 2));
    let notes = v["notes"][0].as_str().unwrap();
    assert!(notes.starts_with("1 bookmark points at no page"), "{notes}");
}

#[test]
fn a_document_without_an_outline_says_which_rule_to_use_instead() {
    let o = pagemill(&["sections", data("camlidl-manual.pdf").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("has no outline"), "{err}");
    assert!(err.contains("`headings`"), "{err}");
}

#[test]
fn page_ranges_and_a_sections_file_read_back_the_same() {
    let pdf = data("freefem-manual.pdf");
    let p = pdf.to_str().unwrap();
    let v = sections_json(&["--sections", "pages:1-10,11-30,31-", p]);
    assert_eq!(
        spans(&v).iter().map(|s| (s.0, s.1)).collect::<Vec<_>>(),
        vec![(1, 10), (11, 30), (31, 50)]
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.json");
    std::fs::write(&file, serde_json::to_vec(&v).unwrap()).unwrap();
    let rule = format!("file:{}", file.display());
    let back = sections_json(&["--sections", &rule, p]);
    assert_eq!(back["sections"], v["sections"]);
    // Past the end, or a bad rule: clear errors.
    let o = pagemill(&["sections", "--sections", "pages:40-60", p]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("past the end of the document (50 pages)"));
    let o = pagemill(&["sections", "--sections", "chapters", p]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("outline[:DEPTH]"));
}

#[test]
fn headings_are_found_by_converting_when_there_is_no_outline() {
    let v = sections_json(&[
        "--sections",
        "headings:1",
        data("camlidl-manual.pdf").to_str().unwrap(),
    ]);
    let s = spans(&v);
    assert!(s.len() >= 3, "{s:?}");
    assert_eq!(s[0].0, 1);
    assert_eq!(s.last().unwrap().1, v["pages"].as_u64().unwrap());
    assert!(s.iter().all(|x| !x.2.is_empty() && !x.2[0].is_empty()));
}

#[test]
fn split_writes_one_valid_pdf_per_section_with_its_pages() {
    let out = tempfile::tempdir().unwrap();
    let pdf = data("freefem-manual.pdf");
    let o = pagemill(&[
        "split",
        "--quiet",
        pdf.to_str().unwrap(),
        "-o",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dir = out.path().join("freefem-manual");
    let listing = read_json(dir.join("freefem-manual.sections.json"));
    let s = spans(&listing);
    assert_eq!(s.len(), 6);
    let mut total = 0;
    for (k, (first, last, path)) in s.iter().enumerate() {
        let part = dir.join(format!("freefem-manual.s{}.pdf", k + 1));
        let pages = (last - first + 1) as u32;
        assert_valid_pdf(&part, pages);
        total += pages;
        if path[0] == "Introduction" {
            assert!(pdftotext(&part).contains("Introduction"));
        }
    }
    assert_eq!(total, 50);
}
