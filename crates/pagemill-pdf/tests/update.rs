//! Incremental updates: a page rewritten through an update reads back as the new version,
//! every other object as before, for both kinds of cross-reference section.

use pagemill_pdf::raw::object::Obj;
use pagemill_pdf::raw::{Original, UpdateWriter};

mod common;
use common::data;

#[test]
fn a_rewritten_page_reads_back_through_the_update() {
    // A classic table and a cross-reference stream.
    for name in ["camlidl-manual.pdf", "docling_normal_4pages.pdf"] {
        let original = Original::open(&data(name), 10_000).unwrap();
        let pages = original.page_count();
        let page = original.page(1).unwrap();
        assert!(!page.contents.is_empty(), "{name}: contents resolved");
        assert!(
            page.visible[2] > page.visible[0] && page.visible[3] > page.visible[1],
            "{name}: {:?}",
            page.visible
        );
        let mut update = UpdateWriter::start(&original, Vec::new()).unwrap();
        let marker = update.reserve();
        update
            .write_raw(
                marker,
                0,
                format!("{marker} 0 obj\n(marked)\nendobj\n").as_bytes(),
            )
            .unwrap();
        let mut dict = page.dict.clone();
        dict.set(b"PmTest", Obj::Ref(marker, 0));
        update.write_dict(page.id, dict).unwrap();
        let bytes = update.finish().unwrap();

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("updated.pdf");
        std::fs::write(&path, &bytes).unwrap();
        let updated = Original::open(&path, 10_000).unwrap();
        assert_eq!(updated.page_count(), pages, "{name}");
        let again = updated.page(1).unwrap();
        assert_eq!(again.id, page.id);
        let mark = again.dict.get(b"PmTest").expect("new version read");
        assert_eq!(
            updated.resolve(mark).unwrap(),
            Obj::Str(b"marked".to_vec()),
            "{name}"
        );
        // Untouched pages are the original objects.
        assert_eq!(
            updated.page(0).unwrap().dict,
            original.page(0).unwrap().dict
        );
        // qpdf agrees the file is sound.
        let check = std::process::Command::new("qpdf")
            .arg("--check")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
}
