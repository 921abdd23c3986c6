//! Views must be invisible: every page read through a view is the page PDFium reads from the
//! whole document. Run on real files covering the cross-reference kinds: a classic table
//! (camlidl, docling_multi_page), streams with object streams (normal_4pages, amt), and a
//! chain of incremental updates in streams (code_and_formula).

use pagemill_pdf::{Engine, PagedDocument};

mod common;
use common::data;

#[test]
fn pages_read_through_views_equal_pages_of_the_whole_document() {
    let engine = Engine::load().expect("PDFium (run scripts/setup)");
    for name in [
        "camlidl-manual.pdf",
        "docling_multi_page.pdf",
        "docling_normal_4pages.pdf",
        "docling_amt_handbook_sample.pdf",
        "docling_code_and_formula.pdf",
        "pypdf_multicolumn.pdf",
    ] {
        let path = data(name);
        let whole = engine.open(&path, None).unwrap();
        for view_pages in [1, 3] {
            let mut paged =
                PagedDocument::open_with_views(&engine, &path, None, view_pages).unwrap();
            assert_eq!(paged.page_count(), whole.page_count());
            if paged.page_count() > view_pages {
                assert!(paged.uses_views(), "{name}: views expected");
            }
            // Out of order on purpose: views are swapped back and forth.
            let n = paged.page_count();
            for i in (0..n).rev().chain(0..n) {
                let want = whole.extract_page(i).unwrap();
                let got = paged.extract_page(i).unwrap();
                assert_eq!(got, want, "{name}: page {i} through views of {view_pages}");
            }
        }
    }
}
