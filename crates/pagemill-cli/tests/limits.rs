//! Encrypted files and input limits: what opens without asking, what needs a password and
//! how a missing or wrong one is reported, and files refused by size or page count.

mod common;

use common::{convert, data, read};

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn an_owner_password_alone_does_not_stop_conversion() {
    let out = tempfile::tempdir().unwrap();
    let o = convert(
        &[data("pdfminer_encrypted_no_id.pdf")],
        out.path(),
        &["--format", "md", "--quiet"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let md = read(
        out.path()
            .join("pdfminer_encrypted_no_id/pdfminer_encrypted_no_id.md"),
    );
    assert!(!md.trim().is_empty());
}

#[test]
fn an_encryption_dictionary_without_its_key_length_still_opens() {
    // PDFium alone takes the missing /Length as 40 bits and refuses the file.
    let out = tempfile::tempdir().unwrap();
    let o = convert(
        &[data("qpdf_bad_encryption_length.pdf")],
        out.path(),
        &["--format", "md", "--quiet"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let md = read(
        out.path()
            .join("qpdf_bad_encryption_length/qpdf_bad_encryption_length.md"),
    );
    assert!(md.contains("Potato"), "{md}");
}

#[test]
fn user_passwords_from_a_file_or_the_command_line_and_clear_errors_without() {
    let out = tempfile::tempdir().unwrap();
    let protected = data("camelot_health_protected.pdf");

    let o = convert(
        std::slice::from_ref(&protected),
        out.path(),
        &["--format", "md", "--quiet"],
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("camelot_health_protected.pdf") && e.contains("--password-file"),
        "{e}"
    );

    let wrong = out.path().join("wrong.txt");
    std::fs::write(&wrong, "not-it\n").unwrap();
    let o = convert(
        std::slice::from_ref(&protected),
        out.path(),
        &[
            "--format",
            "md",
            "--quiet",
            "--password-file",
            wrong.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("camelot_health_protected.pdf") && e.contains("password given does not open"),
        "{e}"
    );

    let right = out.path().join("right.txt");
    std::fs::write(&right, "userpass\n").unwrap();
    let o = convert(
        &[protected],
        out.path(),
        &[
            "--format",
            "md",
            "--quiet",
            "--password-file",
            right.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let md = read(
        out.path()
            .join("camelot_health_protected/camelot_health_protected.md"),
    );
    assert!(md.len() > 100, "{md}");

    let o = convert(
        &[data("pdfplumber_password_example.pdf")],
        out.path(),
        &["--format", "md", "--quiet", "--password", "test"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn files_over_the_size_or_page_limit_are_refused_and_the_others_converted() {
    let out = tempfile::tempdir().unwrap();
    // camlidl-manual has 26 pages; the TIFF scan one.
    let o = convert(
        &[data("camlidl-manual.pdf"), data("tess_phototest.tif")],
        out.path(),
        &["--format", "md", "--quiet", "--max-pages", "10"],
    );
    assert_eq!(o.status.code(), Some(3), "partial: {}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("26 pages") && e.contains("--max-pages"), "{e}");
    assert!(out.path().join("tess_phototest/tess_phototest.md").exists());
    assert!(!out.path().join("camlidl-manual").exists());

    let o = convert(
        &[data("camlidl-manual.pdf")],
        out.path(),
        &["--format", "md", "--quiet", "--max-file-size", "10KiB"],
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("--max-file-size") && e.contains("10.0 KiB"),
        "{e}"
    );
}
