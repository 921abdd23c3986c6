//! Markdown fidelity on real documents: nothing lost, nothing invented (issue 19).
//! Furniture by repetition, captions and footnotes kept, headings, text direction,
//! emphasis and escaping, ligatures.

mod common;

use common::*;

/// Converts one test document to Markdown and JSON; returns both.
fn convert_one(name: &str) -> (String, serde_json::Value) {
    let out = tempfile::tempdir().unwrap();
    let o = convert(
        &[data(&format!("{name}.pdf"))],
        out.path(),
        &["--format", "md,json", "--quiet"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = read(out.path().join(name).join(format!("{name}.md")));
    let json = read_json(out.path().join(name).join(format!("{name}.json")));
    (md, json)
}

fn blocks(json: &serde_json::Value) -> Vec<&serde_json::Value> {
    json["pages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["blocks"].as_array().unwrap())
        .collect()
}

fn count_words(md: &str, word: &str) -> usize {
    md.split(|c: char| !c.is_alphanumeric())
        .filter(|w| *w == word)
        .count()
}

#[test]
fn ligatures_of_a_tex_manual_come_out_as_whole_words() {
    // camlidl's manual is set by pdfTeX in Type 1 fonts with fi/fl ligatures; the counts
    // are pdftotext's on the same file.
    let (md, _) = convert_one("camlidl-manual");
    for (word, n) in [
        ("file", 46),
        ("files", 25),
        ("float", 24),
        ("fields", 16),
        ("definitions", 9),
        ("first", 8),
    ] {
        assert!(
            count_words(&md, word) >= n,
            "{word}: {} < {n}",
            count_words(&md, word)
        );
    }
}

#[test]
fn emphasis_and_escaping_in_a_manual() {
    let (md, _) = convert_one("camlidl-manual");
    // Run-in bold terms, and C comment marks that would otherwise pair up as emphasis.
    assert!(
        md.contains("**Blanks.** Space, newline"),
        "bold run-in term"
    );
    assert!(md.contains("/\\* ... \\*/"), "comment marks escaped");
    // Footnotes: the superscript mark in the text refers to the note at the page's foot.
    assert!(
        md.contains("Microsoft developer Web site[^2]."),
        "footnote reference"
    );
    assert!(
        md.contains("\n[^2]: http://msdn.microsoft.com"),
        "footnote definition"
    );
}

#[test]
fn running_heads_that_change_are_dropped_and_the_last_lines_kept() {
    // Six pages of R's reference manual: each page's head is the name of the function it
    // documents (conditions, conflicts, connections) beside the page number.
    let (md, json) = convert_one("R-refman_p133-138");
    let heads: Vec<&str> = blocks(&json)
        .into_iter()
        .filter(|b| b["kind"] == "page_header")
        .map(|b| b["text"].as_str().unwrap())
        .collect();
    assert_eq!(heads.len(), 6, "{heads:?}");
    for line in md.lines() {
        assert!(
            !["conditions", "conflicts", "connections"].contains(&line.trim()),
            "running head in the Markdown: {line}"
        );
    }
    // The argument list that ends a page sits where footers sit on other documents.
    assert!(md.contains("A subset of the search path, by default the whole search path."));
    assert!(md.contains("If `TRUE`, give the masked or masking functions for all members"));
}

#[test]
fn captions_labels_and_run_in_headings_of_a_handbook() {
    let (md, _) = convert_one("docling_amt_handbook_sample");
    let md = md.replace("**", "");
    assert!(
        md.contains("Figure 7-26. Self-locking nuts."),
        "caption near the margin"
    );
    assert!(md.contains("Figure 7-27. Stainless steel self-locking nut."));
    for h in [
        "Boots Self-Locking Nut",
        "Stainless Steel Self-Locking Nut",
        "Elastic Stop Nut",
    ] {
        assert!(
            md.lines().any(|l| l.starts_with('#') && l.ends_with(h)),
            "heading {h}"
        );
    }
    // Small bold labels inside a figure are not headings.
    assert!(!md
        .lines()
        .any(|l| l.starts_with('#') && l.contains("nut case")));
    assert!(!md
        .lines()
        .any(|l| l.starts_with('#') && l.ends_with("Tightened nut")));
}

#[test]
fn numbered_headings_and_footnotes_of_a_report() {
    let (md, _) = convert_one("docling_normal_4pages");
    for h in [
        "(1) 「감염병의 예방 및 관리에 관한 법률」 개정",
        "(2) 감독당국의 적극적 보험정책 및 행정 필요",
        "3 문제점",
    ] {
        assert!(
            md.lines().any(|l| l.starts_with('#') && l.ends_with(h)),
            "heading {h}"
        );
    }
    // A footnote at the foot of the first page stays in the text.
    assert!(md.contains("손해보험의 표준약관 규정에 따르면"));
}

#[test]
fn a_table_set_sideways_is_read_turned() {
    // A landscape table printed on a portrait page: its text runs bottom to top.
    let (md, json) = convert_one("camelot_rotated_table");
    assert!(md.contains("Table 21 Current use of contraception by background characteristics"));
    let lone = md
        .lines()
        .filter(|l| l.trim().chars().count() == 1 && l.trim().chars().all(char::is_alphabetic))
        .count();
    assert_eq!(lone, 0, "one-letter lines from sideways text");
    let tables: Vec<_> = blocks(&json)
        .into_iter()
        .filter(|b| b["kind"] == "table")
        .collect();
    assert_eq!(tables.len(), 1);
    assert_eq!(tables[0]["rotation"], 90);
    assert!(tables[0]["table"]["rows"].as_u64().unwrap() >= 20);
}

#[test]
fn a_vertical_margin_stamp_reads_as_one_line_at_the_end_of_its_page() {
    // An arXiv paper's first page: the identifier runs bottom to top in the left margin.
    let (md, json) = convert_one("kreuzberg_tables_large_p1");
    let stamp = "arXiv:2110.00061v3 [cs.LG] 18 Nov 2021";
    assert_eq!(md.trim_end().lines().last(), Some(stamp), "{md}");
    assert_eq!(md.matches("arXiv").count(), 1);
    let b: Vec<_> = blocks(&json)
        .into_iter()
        .filter(|b| b["text"] == stamp)
        .collect();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0]["rotation"], 90);
    let lone = md
        .lines()
        .filter(|l| l.trim().chars().count() == 1 && l.trim().chars().all(char::is_alphabetic))
        .count();
    assert_eq!(lone, 0);
}

#[test]
fn a_right_to_left_line_reads_in_logical_order() {
    let (md, _) = convert_one("docling_rtl_01");
    // Arabic with Latin words inside the line, and the lam-alef ligature in logical order.
    assert!(md.contains("تعتبر البرمجة بلغة R و Python من الأدوات القوية"));
    assert!(md.contains("تحسين الإنتاجية وحل المشكلات"));
}
