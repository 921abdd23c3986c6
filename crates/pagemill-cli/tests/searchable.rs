//! The searchable PDF (`--searchable`): pages look as before, and `pdftotext` finds the
//! OCR words.

use std::path::Path;
use std::process::Command;

use pagemill_core::textsim::{word_f1, words};

mod common;
use common::{assert_valid_pdf, convert, data, pdftotext, read};

/// Gray PGM of page 1 of `pdf` at 40 dpi, as `pdftoppm` renders it.
fn render(pdf: &Path) -> Vec<u8> {
    let o = Command::new("pdftoppm")
        .args(["-r", "40", "-f", "1", "-l", "1", "-gray"])
        .arg(pdf)
        .output()
        .unwrap();
    assert!(o.status.success(), "pdftoppm {}", pdf.display());
    o.stdout
}

/// The word F1 of what `pdftotext` reads from `name`'s searchable PDF against the words of
/// its own Markdown. Markdown adds only markup (`#`, `-`) that `words` drops, so a complete
/// layer scores near 1; measured here: 1.000 (linn), 1.000 (phototestrot), 0.98
/// (devatest, where pdftotext joins two Devanagari words whose boxes touch).
fn layer_f1(out: &Path, name: &str) -> f64 {
    let dir = out.join(name);
    let text = pdftotext(&dir.join(format!("{name}.ocr.pdf")));
    let md = read(dir.join(format!("{name}.md")));
    let f1 = word_f1(&words(&text), &words(&md));
    eprintln!("{name}: pdftotext word F1 {f1:.3}");
    f1
}

#[test]
fn scans_get_a_text_layer_and_born_digital_pages_keep_theirs() {
    let out = tempfile::tempdir().unwrap();
    let o = convert(
        &[
            data("ocrmypdf_linn.pdf"),
            data("tess_phototestrot.tif"),
            data("camlidl-manual.pdf"),
        ],
        out.path(),
        &["--quiet", "--searchable"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pdf = |name: &str| out.path().join(name).join(format!("{name}.ocr.pdf"));

    // A scanned PDF: same page, same looks (the original image passes through), and its
    // words are found.
    assert_valid_pdf(&pdf("ocrmypdf_linn"), 1);
    assert_eq!(
        render(&pdf("ocrmypdf_linn")),
        render(&data("ocrmypdf_linn.pdf")),
        "the text layer is invisible"
    );
    assert!(layer_f1(out.path(), "ocrmypdf_linn") >= 0.95);
    assert_eq!(
        pdftotext(&data("ocrmypdf_linn.pdf")).trim(),
        "",
        "no text before"
    );

    // An image turned a quarter turn: a new PDF of one page, the words found.
    assert_valid_pdf(&pdf("tess_phototestrot"), 1);
    assert!(layer_f1(out.path(), "tess_phototestrot") >= 0.95);

    // A born-digital document: every page, its own text untouched.
    assert_valid_pdf(&pdf("camlidl-manual"), 26);
    assert_eq!(
        pdftotext(&pdf("camlidl-manual")),
        pdftotext(&data("camlidl-manual.pdf"))
    );
}

/// Every character gets its own code in the glyph-less font and its own ToUnicode entry,
/// so non-Latin text survives (a standard font would keep Latin-1 only).
#[test]
fn non_latin_text_is_searchable() {
    let out = tempfile::tempdir().unwrap();
    let o = convert(
        &[data("tess_devatest.png")],
        out.path(),
        &["--quiet", "--searchable", "--lang", "hin+eng"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = pdftotext(&out.path().join("tess_devatest/tess_devatest.ocr.pdf"));
    assert!(text.contains("मनुष्यों"), "Devanagari comes back out: {text}");
    assert!(layer_f1(out.path(), "tess_devatest") >= 0.95);
}

#[test]
fn an_encrypted_pdf_gets_no_searchable_pdf_but_its_other_outputs() {
    let out = tempfile::tempdir().unwrap();
    let o = convert(
        &[data("pdfminer_encrypted_no_id.pdf")],
        out.path(),
        &["--format", "md", "--searchable", "--quiet"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dir = out.path().join("pdfminer_encrypted_no_id");
    assert!(dir.join("pdfminer_encrypted_no_id.md").exists());
    assert!(!dir.join("pdfminer_encrypted_no_id.ocr.pdf").exists());
}
