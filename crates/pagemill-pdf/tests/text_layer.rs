//! The text-versus-OCR decision on real files, one per branch of
//! `pagemill_core::layout::text_layer::ocr_reason`.

use pagemill_core::layout::text_layer::ocr_reason;
use pagemill_core::model::OcrReason;
use pagemill_pdf::Engine;

mod common;
use common::data;

#[test]
fn each_corpus_file_takes_its_branch() {
    let engine = Engine::load().expect("PDFium (run scripts/setup)");
    let cases = [
        // A born-digital page with a real text layer.
        ("camlidl-manual.pdf", None),
        // An image-only scan.
        ("ocrmypdf_linn.pdf", Some(OcrReason::NoText)),
        // Every glyph drawn as a vector outline.
        (
            "ocrmypdf_vector_text_as_curves.pdf",
            Some(OcrReason::TextAsCurves),
        ),
        // A scan with a hidden OCR layer from an earlier tool.
        ("ocrmypdf_graph_ocred.pdf", Some(OcrReason::InvisibleText)),
        // A visible heading over an invisible layer: the text layer stays.
        ("docling_invisible_text_layer.pdf", None),
        // A subset TrueType font without ToUnicode: "Phone" extracts as `"7+%-`.
        (
            "ocrmypdf_truetype_font_nomapping.pdf",
            Some(OcrReason::UnmappedText),
        ),
        // A Type 3 font without a Unicode mapping.
        (
            "ocrmypdf_type3_font_nomapping.pdf",
            Some(OcrReason::UnmappedText),
        ),
    ];
    for (name, want) in cases {
        let doc = engine.open(&data(name), None).expect(name);
        let raw = doc.extract_page(0).expect(name);
        assert_eq!(ocr_reason(&raw.layer), want, "{name}: {:?}", raw.layer);
    }
}
