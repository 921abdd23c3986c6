//! Helpers shared by the end-to-end tests: test data, running the built binary.

#![allow(dead_code)] // each test file uses its own subset

pub mod llm;
pub mod nats;
pub mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(name)
}

pub fn pagemill(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pagemill"))
        .args(args)
        .output()
        .expect("run pagemill")
}

pub fn convert(inputs: &[PathBuf], out: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<String> = vec!["convert".into()];
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    args.extend([
        "-o".to_string(),
        out.display().to_string(),
        "--jobs".into(),
        "2".into(),
    ]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    pagemill(&refs)
}

pub fn read(p: PathBuf) -> String {
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// Reads and parses a JSON output.
pub fn read_json(p: PathBuf) -> Value {
    serde_json::from_str(&read(p)).expect("valid JSON")
}

/// Asserts that `pdf` passes `qpdf --check` and that `pdfinfo` counts `pages` pages.
pub fn assert_valid_pdf(pdf: &Path, pages: u32) {
    let check = Command::new("qpdf")
        .arg("--check")
        .arg(pdf)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "qpdf {}: {}",
        pdf.display(),
        String::from_utf8_lossy(&check.stdout)
    );
    let info = Command::new("pdfinfo").arg(pdf).output().unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(
        info.lines()
            .any(|l| l.starts_with("Pages:") && l.ends_with(&format!(" {pages}"))),
        "{}: {info}",
        pdf.display()
    );
}

/// The text `pdftotext` extracts from `pdf`.
pub fn pdftotext(pdf: &Path) -> String {
    let o = Command::new("pdftotext")
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap();
    assert!(o.status.success(), "pdftotext {}", pdf.display());
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every file under `dir`, relative to it, with its bytes, in name order.
pub fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_path_buf();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Asserts two output directories hold the same files with the same bytes; `what` names
/// how `b` was made, for the message.
pub fn assert_same_tree(a: &Path, b: &Path, what: &str) {
    let (a, b) = (tree(a), tree(b));
    let names =
        |t: &[(PathBuf, Vec<u8>)]| -> Vec<PathBuf> { t.iter().map(|f| f.0.clone()).collect() };
    assert_eq!(names(&a), names(&b));
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{} differs {what}", name.display());
    }
}
