//! `pagemill index` and `pagemill search` end to end on real documents (issue 17):
//! chunk boundaries and provenance, search modes, incremental re-indexing, a run killed
//! mid-document, bad input.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

fn index(dir: &Path, inputs: &[&Path]) -> std::process::Output {
    let mut args: Vec<String> = vec!["index".into(), "--quiet".into()];
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    args.extend(["--index".into(), dir.display().to_string()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    pagemill(&refs)
}

fn stats(dir: &Path) -> String {
    let o = pagemill(&["index", "--stats", "--index", &dir.display().to_string()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stat(dir: &Path, name: &str) -> u64 {
    stats(dir)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn search(dir: &Path, query: &str, extra: &[&str]) -> serde_json::Value {
    let d = dir.display().to_string();
    let mut args = vec!["search", "--index", &d, query, "--json"];
    if !extra.contains(&"-k") {
        args.extend(["-k", "5"]);
    }
    args.extend_from_slice(extra);
    let o = pagemill(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("search --json")
}

/// The text pdftotext finds inside a box of a page (points, 72 dpi).
fn text_in_box(pdf: &Path, page: u64, b: &[f64]) -> String {
    let n = page.to_string();
    let (x, y) = (b[0].floor() as i64 - 1, b[1].floor() as i64 - 1);
    let (w, h) = (
        (b[2] - b[0]).ceil() as i64 + 2,
        (b[3] - b[1]).ceil() as i64 + 2,
    );
    let o = Command::new("pdftotext")
        .args([
            "-f",
            &n,
            "-l",
            &n,
            "-x",
            &x.to_string(),
            "-y",
            &y.to_string(),
        ])
        .args(["-W", &w.to_string(), "-H", &h.to_string()])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils, installed by scripts/setup)");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_manual_is_chunked_by_section_and_every_chunk_points_at_its_text() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = data("camlidl-manual.pdf");
    let o = index(dir.path(), &[&pdf]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stat(dir.path(), "documents"), 1);
    assert_eq!(stat(dir.path(), "pages"), 26);
    let chunks = stat(dir.path(), "chunks");
    assert!((30..200).contains(&chunks), "{chunks} chunks");

    let r = search(
        dir.path(),
        "exception raised to report Com errors",
        &["--mode", "bm25"],
    );
    let hit = &r["hits"][0];
    let path: Vec<&str> = hit["heading_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert_eq!(path, ["5 Module Com: run-time library for COM components"]);
    assert!(
        hit["text"].as_str().unwrap().contains("Com.Error")
            || hit["text"].as_str().unwrap().contains("Error of int")
    );

    // Provenance: each of the top chunks' first words are inside its first block's box,
    // on the page it names.
    for hit in r["hits"].as_array().unwrap() {
        let s = &hit["sources"][0];
        let page = s["page"].as_u64().unwrap();
        let b: Vec<f64> = s["bbox"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let alnum = |t: &str| -> String { t.chars().filter(|c| c.is_alphanumeric()).collect() };
        let inside = alnum(&text_in_box(&pdf, page, &b));
        let first: Vec<&str> = hit["text"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .take(3)
            .collect();
        for w in first {
            let w = alnum(w);
            assert!(
                inside.contains(&w),
                "{w:?} not in page {page} box {b:?}: {inside:?}"
            );
        }
        assert!(hit["first_page"].as_u64().unwrap() <= page);
        assert!(page <= hit["last_page"].as_u64().unwrap());
    }
}

#[test]
fn tables_are_chunked_by_rows_with_their_header() {
    let dir = tempfile::tempdir().unwrap();
    let o = index(dir.path(), &[&data("camelot_rotated_table.pdf")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = search(
        dir.path(),
        "scheduled caste tribe backward class",
        &["--mode", "bm25", "-k", "50"],
    );
    let tables: Vec<&str> = r["hits"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["kind"] == "table")
        .map(|h| h["text"].as_str().unwrap())
        .collect();
    // A 30-row table of 17 columns does not fit one 256-token chunk.
    assert!(tables.len() >= 2, "{r}");
    let header = tables[0].lines().next().unwrap();
    assert!(header.contains("Background characteristic"), "{header}");
    for t in &tables {
        let lines: Vec<&str> = t.lines().collect();
        // The header (repeated in every part), its rule, then whole rows only.
        assert_eq!(lines[0], header, "{t}");
        let rule = lines
            .iter()
            .position(|l| l.starts_with("| ---"))
            .expect("rule");
        assert!(rule <= 2 && lines.len() > rule + 1, "{t}");
        for l in &lines {
            assert!(
                l.starts_with('|') && l.ends_with('|'),
                "not a whole row: {l}"
            );
        }
    }
}

#[test]
fn search_modes_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let o = index(
        dir.path(),
        &[&data("camlidl-manual.pdf"), &data("R-refman_p133-138.pdf")],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for mode in ["hybrid", "vector", "bm25"] {
        let r = search(
            dir.path(),
            "how are pointers to arrays declared in IDL",
            &["--mode", mode],
        );
        let hits = r["hits"].as_array().unwrap();
        assert_eq!(hits.len(), 5, "{mode}");
        assert!(
            hits[0]["document"]
                .as_str()
                .unwrap()
                .ends_with("camlidl-manual.pdf"),
            "{mode}: {r}"
        );
        assert!(
            hits[0]["snippet"].as_str().unwrap().contains("**"),
            "{mode}"
        );
    }
    let r = search(
        dir.path(),
        "pointers",
        &["--document", "R-refman", "--pages", "2-3"],
    );
    for h in r["hits"].as_array().unwrap() {
        assert!(h["document"]
            .as_str()
            .unwrap()
            .ends_with("R-refman_p133-138.pdf"));
        assert!(h["last_page"].as_u64().unwrap() >= 2 && h["first_page"].as_u64().unwrap() <= 3);
    }
}

#[test]
fn reindexing_is_incremental_new_changed_and_removed_files() {
    let dir = tempfile::tempdir().unwrap();
    let docs = tempfile::tempdir().unwrap();
    let a = docs.path().join("a.pdf");
    let b = docs.path().join("b.pdf");
    std::fs::copy(data("R-refman_p133-138.pdf"), &a).unwrap();
    std::fs::copy(data("docling_multi_page.pdf"), &b).unwrap();
    let idx = dir.path().join("ix");
    assert!(index(&idx, &[docs.path()]).status.success());
    assert_eq!(stat(&idx, "documents"), 2);
    let chunks = stat(&idx, "chunks");

    // Unchanged: nothing is converted again.
    let d = idx.display().to_string();
    let o = pagemill(&["index", &docs.path().display().to_string(), "--index", &d]);
    assert!(o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("2 unchanged"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(stat(&idx, "chunks"), chunks);

    // Changed and removed.
    std::fs::copy(data("docling_normal_4pages.pdf"), &b).unwrap();
    std::fs::remove_file(&a).unwrap();
    assert!(index(&idx, &[docs.path()]).status.success());
    assert_eq!(stat(&idx, "documents"), 1);
    assert_eq!(stat(&idx, "pages"), 4);
    let r = search(&idx, "function arguments", &[]);
    for h in r["hits"].as_array().unwrap() {
        assert!(h["document"].as_str().unwrap().ends_with("b.pdf"));
    }

    // --remove.
    let o = pagemill(&[
        "index",
        "--remove",
        &b.display().to_string(),
        "--index",
        &d,
        "--quiet",
    ]);
    assert!(o.status.success());
    assert_eq!(stat(&idx, "documents"), 0);
}

#[test]
fn a_run_killed_mid_document_leaves_an_index_the_next_run_completes() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = data("camlidl-manual.pdf");
    let reference = dir.path().join("reference");
    assert!(index(&reference, &[&pdf]).status.success());
    let want = stat(&reference, "chunks");

    let idx = dir.path().join("ix");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pagemill"))
        .args(["index", "--quiet", "--index"])
        .arg(&idx)
        .arg(&pdf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill once the document is under way (its row exists, incomplete), before it
    // completes: embedding its chunks takes seconds.
    let db = idx.join("index.sqlite3");
    let start = std::time::Instant::now();
    while start.elapsed().as_secs() < 60 && child.try_wait().unwrap().is_none() {
        let o = pagemill(&["index", "--stats", "--index", &idx.display().to_string()]);
        if db.exists() && String::from_utf8_lossy(&o.stdout).contains("incomplete") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    sigkill(child.id());
    let _ = child.wait();

    // Whatever the moment, the index opens and counts only complete documents.
    let before = stat(&idx, "documents");
    assert!(before <= 1);
    let o = index(&idx, &[&pdf]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stat(&idx, "documents"), 1);
    assert_eq!(stat(&idx, "chunks"), want);
    assert!(!stats(&idx).contains("incomplete"));
}

/// SIGKILL, as a crash or the OOM killer would end the process (if it has not ended).
fn sigkill(pid: u32) {
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
}

#[test]
fn bad_input_gives_a_clear_message_and_leaves_the_index_usable() {
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("ix");
    assert!(index(&idx, &[&data("R-refman_p133-138.pdf")])
        .status
        .success());
    let o = index(
        &idx,
        &[
            &data("pdfplumber_empty_0bytes.pdf"),
            &data("qpdf_bad1_5bytes.pdf"),
        ],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("pdfplumber_empty_0bytes.pdf"), "{err}");
    assert_eq!(stat(&idx, "documents"), 1);
    assert_eq!(
        search(&idx, "argument", &[])["hits"]
            .as_array()
            .unwrap()
            .len(),
        5
    );

    let missing = dir.path().join("nothing-here");
    let o = pagemill(&["search", "--index", &missing.display().to_string(), "x"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not an index"));
}
