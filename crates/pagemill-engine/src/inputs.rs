//! Turning command-line paths into a list of documents and their output directories.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// One document to convert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The file.
    pub path: PathBuf,
    /// Output directory `OUT/<stem>/`.
    pub out_dir: PathBuf,
    /// File stem used for output names (`<stem>.md` …).
    pub stem: String,
}

/// An input that cannot be converted, and why (one line naming it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The path as given (or the directory that held nothing).
    pub path: PathBuf,
    /// What is wrong, for a person.
    pub message: String,
}

impl InputError {
    fn new(path: &Path, what: impl std::fmt::Display) -> Self {
        InputError {
            path: path.to_path_buf(),
            message: format!("{}: {what}", path.display()),
        }
    }
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Extensions of the files picked up when walking a directory: PDF and the image formats
/// workers decode. (Files named on the command line are taken whatever their name; the
/// worker tells formats apart by their bytes.)
const DOCUMENT_EXTENSIONS: &[&str] = &[
    "pdf", "png", "jpg", "jpeg", "jpe", "tif", "tiff", "gif", "webp", "bmp", "pbm", "pgm", "ppm",
    "pnm", "jp2", "j2k", "jpx", "j2c",
];

fn is_document(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        DOCUMENT_EXTENSIONS
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    })
}

/// Expands files and directories (recursively, PDF and image files, sorted) into inputs with
/// distinct output directories under `out` (`x`, then `x-2`, … when stems collide).
/// Paths that do not exist are returned as errors; the rest still go ahead.
pub fn plan_inputs(paths: &[PathBuf], out: &Path) -> (Vec<Input>, Vec<InputError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found, &mut errors);
            found.sort();
            if found.is_empty() {
                errors.push(InputError::new(
                    p,
                    "no PDF or image files in this directory",
                ));
            }
            files.extend(found);
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            errors.push(InputError::new(p, "no such file or directory"));
        }
    }
    let mut used = HashSet::new();
    let inputs = files
        .into_iter()
        .map(|path| {
            let base = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "document".into());
            let mut stem = base.clone();
            let mut n = 2;
            while !used.insert(stem.clone()) {
                stem = format!("{base}-{n}");
                n += 1;
            }
            Input {
                out_dir: out.join(&stem),
                stem,
                path,
            }
        })
        .collect();
    (inputs, errors)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<InputError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(InputError::new(
                dir,
                format_args!("cannot read directory: {e}"),
            ));
            return;
        }
    };
    for entry in entries.flatten() {
        let p = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&p, out, errors),
            Ok(t) if t.is_file() && is_document(&p) => out.push(p),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_dirs_and_disambiguates_stems() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("a/b")).unwrap();
        for f in ["a/x.pdf", "a/b/x.PDF", "a/notes.txt", "a/scan.TIF", "y.pdf"] {
            std::fs::write(d.path().join(f), b"%PDF").unwrap();
        }
        let (inputs, errors) = plan_inputs(
            &[
                d.path().join("a"),
                d.path().join("y.pdf"),
                d.path().join("zz"),
            ],
            Path::new("out"),
        );
        let stems: Vec<_> = inputs.iter().map(|i| i.stem.as_str()).collect();
        assert_eq!(stems, vec!["x", "scan", "x-2", "y"]);
        assert_eq!(inputs[2].out_dir, Path::new("out/x-2"));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("zz"));
    }
}
