//! A job's options as a client gives them (multipart fields or query parameters, named
//! like `pagemill convert`'s flags), checked when the job is created and kept with it.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use pagemill_core::ranges::PageRanges;
use pagemill_core::settings::{EraseSettings, OcrMode, OcrSettings, UpscaleModel, UpscaleSettings};
use pagemill_engine::{JobSpec, SourceLabel};
use pagemill_export::{Formats, TableForm};
use pagemill_extract::{Schema, Template};
use pagemill_sections::{SectionError, SectionRule};
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
                     table_format, ocr_dpi, layout_dpi, figure_dpi, page_timeout; text \
                     removal: erase, passes, min_confidence, upscale_output; upscaling: \
                     upscale, upscale_model, max_output_pixels; for an \
                     extraction: prompt, schema, sections, section_timeout, retries, \
                     corrections, max_section_tokens (llm_url, model where the server allows)";

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
    /// Text removal's readings per page (`erase-text --passes`).
    pub passes: u8,
    /// OCR words under this confidence are not erased (`erase-text --min-confidence`).
    pub min_confidence: f32,
    /// Upscale the pages by this factor and write them (`pagemill upscale --scale`).
    pub upscale: Option<u8>,
    /// Upscale the pages by this factor before erasing their text
    /// (`erase-text --upscale-output`).
    pub upscale_output: Option<u8>,
    /// How to upscale (`--model`).
    pub upscale_model: UpscaleModel,
    /// Largest upscaled picture in pixels (`--max-output-pixels`).
    pub max_output_pixels: u64,
    /// Per-section LLM extraction (`pagemill extract`): set by the `prompt` option and
    /// its companions; the job then writes the sections' answers and Markdown.
    pub extract: Option<ExtractJob>,
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
            passes: EraseSettings::default().passes,
            min_confidence: EraseSettings::default().min_confidence,
            upscale: None,
            upscale_output: None,
            upscale_model: UpscaleModel::Compact,
            max_output_pixels: UpscaleSettings::default().max_output_pixels,
            extract: None,
            index: None,
        }
    }
}

/// An extraction job's options, named like `pagemill extract`'s flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExtractJob {
    /// The prompt template (`{{markdown}}`, `{{title}}`, …).
    pub prompt: String,
    /// The JSON Schema answers must match, as JSON text.
    pub schema: Option<String>,
    /// The section rule (`outline[:DEPTH]`, `headings[:LEVEL]`, `pages:…`), or the
    /// sections themselves as JSON.
    pub sections: String,
    /// Seconds one request may take.
    pub section_timeout: f64,
    /// Retries of a request after a timeout, 429 or 5xx.
    pub retries: u32,
    /// Follow-ups after an answer that does not match the schema.
    pub corrections: u32,
    /// Largest prompt in tokens; longer sections go in parts.
    pub max_section_tokens: usize,
    /// Another endpoint than the server's (only where the operator allows it).
    pub llm_url: Option<String>,
    /// Another model than the server's (only where the operator allows it).
    pub model: Option<String>,
}

impl Default for ExtractJob {
    fn default() -> Self {
        ExtractJob {
            prompt: String::new(),
            schema: None,
            sections: "outline".into(),
            section_timeout: 300.0,
            retries: 4,
            corrections: 2,
            max_section_tokens: 6000,
            llm_url: None,
            model: None,
        }
    }
}

impl ExtractJob {
    /// The section rule (checked when the option was set).
    pub fn rule(&self) -> Result<SectionRule, OptionError> {
        let rule: SectionRule = self
            .sections
            .parse()
            .map_err(|e: SectionError| invalid("sections", e.to_string()))?;
        if matches!(rule, SectionRule::File(_)) {
            return Err(invalid(
                "sections",
                "`file:` would read the server's files; send the sections themselves as JSON \
                 ([{\"title\": \"Intro\", \"pages\": \"1-4\"}, …])",
            ));
        }
        Ok(rule)
    }

    /// The prompt template (checked when the option was set).
    pub fn template(&self) -> Result<Template, OptionError> {
        Template::new(&self.prompt).map_err(|e| invalid("prompt", e.to_string()))
    }

    /// The schema (checked when the option was set).
    pub fn schema(&self) -> Result<Option<Schema>, OptionError> {
        let Some(text) = &self.schema else {
            return Ok(None);
        };
        let raw =
            serde_json::from_str(text).map_err(|e| invalid("schema", format!("not JSON: {e}")))?;
        Schema::new(raw)
            .map(Some)
            .map_err(|e| invalid("schema", format!("not a usable JSON Schema: {e}")))
    }

    fn set(&mut self, name: &str, value: &str) -> Result<(), OptionError> {
        match name {
            "prompt" => {
                self.prompt = value.to_string();
                self.template()?;
            }
            "schema" => {
                self.schema = Some(value.to_string());
                self.schema()?;
            }
            "sections" => {
                self.sections = value.trim().to_string();
                self.rule()?;
            }
            "section_timeout" => self.section_timeout = number(name, value, 1.0, 3600.0)?,
            "retries" => self.retries = number(name, value, 0, 20)?,
            "corrections" => self.corrections = number(name, value, 0, 10)?,
            "max_section_tokens" => {
                self.max_section_tokens = number(name, value, 256, 1_000_000)?;
            }
            "llm_url" => {
                let url = value.trim();
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(invalid(name, "give an http:// or https:// URL"));
                }
                self.llm_url = Some(url.to_string());
            }
            "model" => self.model = Some(value.trim().to_string()),
            _ => return Err(OptionError::Unknown(name.to_string())),
        }
        Ok(())
    }
}

/// Options that belong to an extraction.
const EXTRACT_OPTIONS: &[&str] = &[
    "prompt",
    "schema",
    "sections",
    "section_timeout",
    "retries",
    "corrections",
    "max_section_tokens",
    "llm_url",
    "model",
];

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
            "erase" => self.formats.erased = boolean(name, value)?,
            "passes" => self.passes = number(name, value, 1, 5)?,
            "min_confidence" => self.min_confidence = number(name, value, 0.0, 1.0)?,
            "upscale" => self.upscale = Some(number(name, value, 2, 4)?),
            "upscale_output" => self.upscale_output = Some(number(name, value, 2, 4)?),
            "upscale_model" => {
                self.upscale_model = match value.trim() {
                    "compact" => UpscaleModel::Compact,
                    "x4plus" => UpscaleModel::X4plus,
                    "lanczos" => UpscaleModel::Lanczos,
                    _ => {
                        return Err(invalid(
                            name,
                            format!("`{value}` is not compact, x4plus or lanczos"),
                        ))
                    }
                }
            }
            "max_output_pixels" => {
                self.max_output_pixels = number(name, value, 1_000_000, 1_000_000_000)?;
            }
            _ if EXTRACT_OPTIONS.contains(&name) => {
                self.extract
                    .get_or_insert_with(Default::default)
                    .set(name, value)?;
            }
            _ => return Err(OptionError::Unknown(name.to_string())),
        }
        Ok(())
    }

    /// Checks what single options cannot: an extraction needs its prompt; upscaling
    /// before text removal needs text removal; x4plus scales by 4 only.
    pub fn check(&self) -> Result<(), OptionError> {
        if self.upscale_output.is_some() && !self.formats.erased {
            return Err(invalid(
                "upscale_output",
                "upscales the page before its text is erased: add format=erased or erase=true (or use \
                 upscale=N to write the pages upscaled)",
            ));
        }
        if self.upscale.is_some() && self.upscale_output.is_some() {
            return Err(invalid(
                "upscale",
                "give upscale (the pages upscaled) or upscale_output (upscaled, then \
                 erased), not both",
            ));
        }
        if let Some(scale) = self.upscale.or(self.upscale_output) {
            if self.upscale_model == UpscaleModel::X4plus && scale != 4 {
                return Err(invalid("upscale_model", "x4plus upscales by 4 only"));
            }
        }
        if let Some(x) = &self.extract {
            if x.prompt.trim().is_empty() {
                return Err(invalid(
                    "prompt",
                    "an extraction needs a prompt (its other options were given)",
                ));
            }
            if self.index.is_some() {
                return Err(invalid("prompt", "an index job does not extract"));
            }
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
            // An index job writes the index (its sinks) and no file output; an extraction
            // writes its sections' answers and Markdown.
            formats: if self.index.is_some() || self.extract.is_some() {
                Formats::none()
            } else if let Some(scale) = self.upscale {
                // An upscaling job writes the pages upscaled, and text removal if asked.
                Formats {
                    upscaled: Some(scale),
                    erased: false,
                    ..Formats::none()
                }
            } else {
                self.formats
            },
            ocr: OcrSettings {
                // Nothing is read off the pages of an upscaling job.
                mode: if self.upscale.is_some() {
                    OcrMode::Never
                } else {
                    self.ocr
                },
                languages: self.lang.clone(),
                dpi: self.ocr_dpi,
                ..defaults.ocr.clone()
            },
            layout_dpi: self.layout_dpi,
            figure_dpi: self.figure_dpi,
            erase: self.formats.erased.then_some(EraseSettings {
                passes: self.passes,
                min_confidence: self.min_confidence,
            }),
            upscale: self
                .upscale
                .or(self.upscale_output)
                .map(|scale| UpscaleSettings {
                    model: self.upscale_model,
                    scale,
                    max_output_pixels: self.max_output_pixels,
                    ..UpscaleSettings::default()
                }),
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
    fn extraction_options_are_checked_when_given() {
        let mut o = JobOptions::default();
        o.set("sections", "pages:1-2,3-").unwrap();
        assert!(o.check().is_err(), "sections without a prompt");
        o.set("prompt", "Summarise {{markdown}}").unwrap();
        o.set("schema", r#"{"type": "object"}"#).unwrap();
        o.check().unwrap();
        let x = o.extract.as_ref().unwrap();
        assert_eq!(x.rule().unwrap().to_string(), "pages:1-2,3-");
        assert_eq!(x.retries, 4, "the CLI's default");
        let spec = o.to_spec(vec!["a.pdf".into()], "out".into(), false);
        assert_eq!(
            spec.formats,
            Formats::none(),
            "only the sections are written"
        );
        assert!(o.set("schema", "{not json").is_err());
        assert!(o.set("schema", r#"{"type": 5}"#).is_err());
        assert!(o.set("prompt", "{{nonsense}}").is_err());
        let e = o
            .set("sections", "file:/etc/passwd")
            .unwrap_err()
            .to_string();
        assert!(e.contains("server's files"), "{e}");
        assert!(o
            .set("sections", r#"[{"title": "A", "pages": "1-2"}]"#)
            .is_ok());
        assert!(o.set("llm_url", "file:///x").is_err());
        assert!(o.set("retries", "99").is_err());
    }

    #[test]
    fn erase_and_upscale_options_read_like_the_flags() {
        let mut o = JobOptions::default();
        o.set("erase", "true").unwrap();
        o.set("upscale_output", "2").unwrap();
        o.set("upscale_model", "lanczos").unwrap();
        o.check().unwrap();
        let spec = o.to_spec(vec!["a.png".into()], "out".into(), false);
        assert!(spec.formats.erased);
        assert_eq!(spec.erase, Some(EraseSettings::default()));
        let up = spec.upscale.unwrap();
        assert_eq!((up.scale, up.model), (2, UpscaleModel::Lanczos));

        let mut o = JobOptions::default();
        o.set("upscale_output", "2").unwrap();
        assert!(o.check().is_err(), "upscale_output without erase");
        let mut o = JobOptions::default();
        o.set("upscale", "3").unwrap();
        o.check().unwrap();
        let spec = o.to_spec(vec!["a.png".into()], "out".into(), false);
        assert_eq!(spec.formats.upscaled, Some(3));
        assert!(!spec.formats.markdown);
        assert_eq!(spec.ocr.mode, OcrMode::Never);
        o.set("upscale_model", "x4plus").unwrap();
        assert!(o.check().is_err(), "x4plus at ×3");
        assert!(o.set("upscale", "5").is_err());
        assert!(o.set("upscale_model", "esrgan").is_err());
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
