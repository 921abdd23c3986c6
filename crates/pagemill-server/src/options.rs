//! A job's options as a client gives them (multipart fields or query parameters, named
//! like `pagemill convert`'s flags), checked when the job is created and kept with it.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use pagemill_core::ranges::PageRanges;
use pagemill_core::settings::{OcrMode, OcrSettings};
use pagemill_engine::{JobSpec, SourceLabel};
use pagemill_export::{Formats, TableForm};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// An option the service does not take, or a value it cannot read.
#[derive(Debug, Error, PartialEq)]
pub enum OptionError {
    /// No such option.
    #[error("unknown option `{0}`; known: {KNOWN}")]
    Unknown(String),
    /// The value is not valid for the option.
    #[error("option `{name}`: {message}")]
    Invalid {
        /// The option.
        name: String,
        /// What is wrong, and what would do.
        message: String,
    },
}

/// The options a job takes, for the error message.
const KNOWN: &str = "pages, ocr, lang, formats (or format), searchable, hocr, layout_pdf, \
                     table_format, ocr_dpi, layout_dpi, figure_dpi, page_timeout";

/// A job's options. Missing ones take `pagemill convert`'s defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobOptions {
    /// Pages, 1-based ranges (`1-10,20`); all when absent.
    pub pages: Option<String>,
    /// `auto`, `always` or `never`.
    pub ocr: OcrMode,
    /// Tesseract languages (`eng+deu`).
    pub lang: String,
    /// What to write.
    pub formats: Formats,
    /// OCR resolution.
    pub ocr_dpi: u32,
    /// Resolution of the layout PDF's pictures.
    pub layout_dpi: u32,
    /// Resolution of figure crops.
    pub figure_dpi: u32,
    /// Seconds a page may take.
    pub page_timeout: f64,
    /// The caller's search index the documents go into (`POST /v1/indexes/{name}/documents`);
    /// nothing but the index is written then. Set by the route, never by an option field.
    pub index: Option<String>,
}

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            pages: None,
            ocr: OcrMode::Auto,
            lang: "eng".into(),
            formats: Formats::default(),
            ocr_dpi: 300,
            layout_dpi: 100,
            figure_dpi: 150,
            page_timeout: 60.0,
            index: None,
        }
    }
}

fn invalid(name: &str, message: impl Into<String>) -> OptionError {
    OptionError::Invalid {
        name: name.into(),
        message: message.into(),
    }
}

fn boolean(name: &str, value: &str) -> Result<bool, OptionError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(invalid(name, format!("`{value}` is not true or false"))),
    }
}

fn number<T: FromStr + PartialOrd + Copy + std::fmt::Display>(
    name: &str,
    value: &str,
    min: T,
    max: T,
) -> Result<T, OptionError> {
    match value.trim().parse::<T>() {
        Ok(v) if v >= min && v <= max => Ok(v),
        _ => Err(invalid(
            name,
            format!("`{value}` is not a number from {min} to {max}"),
        )),
    }
}

impl JobOptions {
    /// Sets option `name` from its text value.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), OptionError> {
        match name {
            "pages" => {
                PageRanges::parse(value).map_err(|e| invalid(name, e.to_string()))?;
                self.pages = Some(value.trim().to_string());
            }
            "ocr" => {
                self.ocr = match value.trim() {
                    "auto" => OcrMode::Auto,
                    "always" => OcrMode::Always,
                    "never" => OcrMode::Never,
                    _ => {
                        return Err(invalid(
                            name,
                            format!("`{value}` is not auto, always or never"),
                        ))
                    }
                }
            }
            "lang" => {
                let ok = !value.is_empty()
                    && value.split('+').all(|l| {
                        !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    });
                if !ok {
                    return Err(invalid(
                        name,
                        format!("`{value}` is not a list of languages like eng+deu"),
                    ));
                }
                self.lang = value.to_string();
            }
            "formats" | "format" => {
                let tables = self.formats.tables;
                self.formats = Formats::from_str(value).map_err(|e| invalid(name, e))?;
                self.formats.tables = tables;
            }
            "table_format" => {
                self.formats.tables = match value.trim() {
                    "auto" => TableForm::Auto,
                    "markdown" => TableForm::Markdown,
                    "html" => TableForm::Html,
                    _ => {
                        return Err(invalid(
                            name,
                            format!("`{value}` is not auto, markdown or html"),
                        ))
                    }
                }
            }
            "searchable" => self.formats.searchable = boolean(name, value)?,
            "hocr" => self.formats.hocr = boolean(name, value)?,
            "layout_pdf" => self.formats.layouts = boolean(name, value)?,
            "ocr_dpi" => self.ocr_dpi = number(name, value, 50, 1200)?,
            "layout_dpi" => self.layout_dpi = number(name, value, 36, 300)?,
            "figure_dpi" => self.figure_dpi = number(name, value, 36, 600)?,
            "page_timeout" => self.page_timeout = number(name, value, 0.1, 3600.0)?,
            _ => return Err(OptionError::Unknown(name.to_string())),
        }
        Ok(())
    }

    /// The engine job for these options over `inputs`, writing under `output`.
    pub fn to_spec(&self, inputs: Vec<PathBuf>, output: PathBuf, resume: bool) -> JobSpec {
        let pages = self
            .pages
            .as_deref()
            .and_then(|p| PageRanges::parse(p).ok())
            .unwrap_or_else(PageRanges::all);
        let defaults = JobSpec::default();
        JobSpec {
            inputs,
            output,
            pages,
            // An index job writes the index (its sinks) and no file output.
            formats: if self.index.is_some() {
                Formats::none()
            } else {
                self.formats
            },
            ocr: OcrSettings {
                mode: self.ocr,
                languages: self.lang.clone(),
                dpi: self.ocr_dpi,
                ..defaults.ocr.clone()
            },
            layout_dpi: self.layout_dpi,
            figure_dpi: self.figure_dpi,
            page_timeout: Duration::from_secs_f64(self.page_timeout),
            resume,
            source_label: SourceLabel::FileName,
            ..defaults
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_read_like_the_convert_flags() {
        let mut o = JobOptions::default();
        o.set("pages", "1-3,5").unwrap();
        o.set("ocr", "never").unwrap();
        o.set("format", "md,json").unwrap();
        o.set("searchable", "true").unwrap();
        o.set("ocr_dpi", "200").unwrap();
        o.set("table_format", "html").unwrap();
        let spec = o.to_spec(vec!["a.pdf".into()], "out".into(), false);
        assert_eq!(spec.formats.tables, TableForm::Html);
        assert!(o.set("table_format", "latex").is_err());
        assert_eq!(spec.pages.to_string(), "1-3,5");
        assert_eq!(spec.ocr.mode, OcrMode::Never);
        assert_eq!(spec.ocr.dpi, 200);
        assert!(spec.formats.markdown && spec.formats.json && spec.formats.searchable);
        assert!(!spec.formats.det);
        o.index = Some("manuals".into());
        let spec = o.to_spec(vec!["a.pdf".into()], "out".into(), false);
        assert_eq!(
            spec.formats,
            Formats::none(),
            "an index job writes only the index"
        );
    }

    #[test]
    fn unknown_and_invalid_options_are_named() {
        let mut o = JobOptions::default();
        assert_eq!(
            o.set("colour", "red"),
            Err(OptionError::Unknown("colour".into()))
        );
        let e = o.set("ocr_dpi", "9000").unwrap_err().to_string();
        assert!(e.contains("ocr_dpi"), "{e}");
        assert!(o.set("lang", "eng;rm -rf").is_err());
        assert!(o.set("pages", "0-").is_err());
    }
}
