//! Glyphs whose Unicode mapping gives several letters (TeX ligatures), read as pdftotext
//! reads them. One test a file: PDFium is loaded once a process.

use pagemill_pdf::Engine;

mod common;
use common::data;

/// Words of `page` (0-based) of `name`, as the layout reads them.
fn page_words(engine: &Engine, name: &str, page: u32) -> Vec<String> {
    let doc = engine.open(&data(name), None).expect(name);
    let raw = doc.extract_page(page).expect("page");
    pagemill_core::layout::lines::build_lines(&raw.chars, &raw.fonts)
        .iter()
        .flat_map(|l| {
            l.text
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_ff_ligature_keeps_both_letters() {
    // camlidl's TeX fonts map the ff ligature glyph to "ff" in their ToUnicode maps;
    // pdftotext reads "difficult" (page 11) and "offsets" (page 23).
    let engine = Engine::load().expect("PDFium (run scripts/setup)");
    let p11 = page_words(&engine, "camlidl-manual.pdf", 10);
    assert!(p11.iter().any(|w| w == "difficult"), "{p11:?}");
    assert!(!p11.iter().any(|w| w.contains("dificult")));
    let p23 = page_words(&engine, "camlidl-manual.pdf", 22);
    assert!(p23.iter().any(|w| w.starts_with("offsets")), "{p23:?}");
}
