//! Blank pages: told from the page's objects, or by a render when only that can tell.

use pagemill_core::layout::blank::Blankness;
use pagemill_core::layout::text_layer::ocr_reason;
use pagemill_core::model::OcrReason;
use pagemill_pdf::{Engine, PagedDocument};

mod common;
use common::data;

/// One test, one engine: PDFium is not thread-safe, and tests run on threads.
#[test]
fn blank_pages() {
    let engine = Engine::load().expect("PDFium (run scripts/setup)");
    only_the_empty_page_of_a_manual_is_blank(&engine);
    each_kind_of_empty_page(&engine);
}

/// Four pages of R-intro with an empty page inserted, as the worker reads them: only the
/// empty page is blank, and it needs no render to say so.
fn only_the_empty_page_of_a_manual_is_blank(engine: &Engine) {
    let path = data("blank_page_sample.pdf");
    // Views of one page, so that every page goes through a view as in a long document.
    let mut doc = PagedDocument::open_with_views(engine, &path, None, 1).expect("open");
    assert_eq!(doc.page_count(), 4);
    // Contents, an empty page, contents, a page with a drawing (Chapter 12's plot).
    let want = [false, true, false, false];
    for (index, want) in (0..).zip(want) {
        let raw = doc.extract_page(index).expect("extract");
        let blank = ocr_reason(&raw.layer) == Some(OcrReason::NoText)
            && doc.page_is_blank(&raw).expect("blank check");
        assert_eq!(blank, want, "page {index}: {:?}", raw.ink);
        assert_eq!(doc.page_is_blank(&raw).expect("blank check"), want);
        let counted = if want {
            Blankness::Blank
        } else {
            Blankness::NotBlank
        };
        assert_eq!(raw.blankness(), counted, "page {index}: {:?}", raw.ink);
        // The render agrees with the counts.
        assert_eq!(
            doc.page_has_ink(index).expect("render"),
            !want,
            "page {index}"
        );
    }
    let drawing = doc.extract_page(3).expect("extract");
    assert!(drawing.ink.paths > 20, "{:?}", drawing.ink);
}

/// One page per kind of (almost) empty page; see tests/data/SOURCES.md.
fn each_kind_of_empty_page(engine: &Engine) {
    let doc = engine
        .open(&data("blank_page_kinds.pdf"), None)
        .expect("open");
    let cases = [
        ("no content", Blankness::Blank, true),
        ("white full-page rectangle", Blankness::NeedsRender, true),
        ("one thin rule", Blankness::Blank, true),
        ("a black triangle", Blankness::NeedsRender, false),
        ("a text object of spaces", Blankness::NeedsRender, true),
        ("text", Blankness::NotBlank, false),
    ];
    assert_eq!(doc.page_count() as usize, cases.len());
    for (index, (what, counted, blank)) in (0..).zip(cases) {
        let raw = doc.extract_page(index).expect(what);
        assert_eq!(raw.blankness(), counted, "{what}: {:?}", raw.ink);
        assert_eq!(doc.page_is_blank(&raw).expect(what), blank, "{what}");
    }
    // A rule is ink, but no text: the counts alone make its page blank.
    assert!(doc.page_has_ink(2).expect("render"));
}
