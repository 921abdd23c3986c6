//! Finding the sections of PDF files: their page counts and outlines read with PDFium,
//! then the rule applied ([`pagemill_sections::find`]). Shared by `pagemill sections`,
//! `split`, `extract` and the service's extraction jobs.

use std::path::PathBuf;

use pagemill_pdf::{PagedDocument, PdfError};
use pagemill_sections::{
    DocumentMarks, HeadingCollector, Mark, SectionError, SectionFile, SectionRule,
};
use thiserror::Error;

/// Why a document's sections could not be found.
#[derive(Debug, Error)]
pub enum DiscoverError {
    /// PDFium could not be loaded.
    #[error("{0}")]
    Engine(PdfError),
    /// The document could not be read.
    #[error("{document}: {source}")]
    Pdf {
        /// The document, as shown.
        document: String,
        /// What PDFium said.
        source: PdfError,
    },
    /// The rule finds no sections in it.
    #[error("{document}: {source}")]
    Sections {
        /// The document, as shown.
        document: String,
        /// Why.
        source: SectionError,
    },
}

/// A document to find sections in.
#[derive(Debug, Clone)]
pub struct Source {
    /// The file.
    pub path: PathBuf,
    /// Its name in messages and in the sections file.
    pub shown: String,
}

/// The sections `rule` finds in each of `sources`, one result per source (a document
/// without sections does not stop the others). `headings` holds the documents' converted
/// headings when the rule is `headings` (see [`SectionRule::needs_conversion`]).
pub fn find_sections(
    sources: &[Source],
    rule: &SectionRule,
    headings: Option<&HeadingCollector>,
) -> Result<Vec<Result<SectionFile, DiscoverError>>, DiscoverError> {
    let pdfium = pagemill_pdf::Engine::load().map_err(DiscoverError::Engine)?;
    let found = sources
        .iter()
        .map(|source| {
            let marks = read_marks(&pdfium, source, rule, headings)?;
            let pages = marks.pages;
            let built =
                pagemill_sections::find(rule, marks).map_err(|e| DiscoverError::Sections {
                    document: source.shown.clone(),
                    source: e,
                })?;
            Ok(SectionFile {
                document: source.shown.clone(),
                pages,
                rule: rule.to_string(),
                sections: built.sections,
                notes: built.notes,
            })
        })
        .collect();
    Ok(found)
}

fn read_marks(
    pdfium: &pagemill_pdf::Engine,
    source: &Source,
    rule: &SectionRule,
    headings: Option<&HeadingCollector>,
) -> Result<DocumentMarks, DiscoverError> {
    let pdf_error = |e| DiscoverError::Pdf {
        document: source.shown.clone(),
        source: e,
    };
    let mut doc = PagedDocument::open(pdfium, &source.path, None).map_err(pdf_error)?;
    let outline = match rule {
        SectionRule::Outline { .. } => doc
            .outline()
            .map_err(pdf_error)?
            .into_iter()
            .map(|b| Mark {
                level: b.level,
                title: b.title,
                page: b.page,
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(DocumentMarks {
        pages: doc.page_count(),
        outline,
        headings: headings.and_then(|h| h.take(&source.path)),
    })
}
