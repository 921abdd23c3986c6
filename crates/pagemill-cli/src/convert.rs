//! `pagemill convert`.

use clap::{Args, ValueEnum};
use pagemill_core::settings::OcrMode;
use pagemill_export::{Formats, TableForm};

use crate::job::{self, JobArgs, JobKind};

/// When pages are OCRed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OcrWhen {
    /// Pages with a text layer use it; pages without one are OCRed.
    Auto,
    /// Every page is OCRed.
    Always,
    /// No page is OCRed.
    Never,
}

impl From<OcrWhen> for OcrMode {
    fn from(w: OcrWhen) -> Self {
        match w {
            OcrWhen::Auto => OcrMode::Auto,
            OcrWhen::Always => OcrMode::Always,
            OcrWhen::Never => OcrMode::Never,
        }
    }
}

/// `--table-format`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum TableFormat {
    Auto,
    Markdown,
    Html,
}

impl From<TableFormat> for TableForm {
    fn from(f: TableFormat) -> TableForm {
        match f {
            TableFormat::Auto => TableForm::Auto,
            TableFormat::Markdown => TableForm::Markdown,
            TableFormat::Html => TableForm::Html,
        }
    }
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    #[command(flatten)]
    job: JobArgs,

    /// Output formats, comma-separated: md, json, det, hocr, layouts, searchable, images,
    /// erased (the document without its text, as `pagemill erase-text` writes it).
    #[arg(
        long,
        value_name = "LIST",
        default_value = "md,json,det,layouts,images"
    )]
    format: Formats,

    /// Also write `OUT/IN/IN.hocr` (hOCR 1.2: pages, blocks, lines and OCR words with
    /// boxes and confidences), same as adding `hocr` to --format.
    #[arg(long)]
    hocr: bool,

    /// Write `OUT/IN/IN.layouts.pdf` (the default): each page as a picture with every
    /// block's box drawn over it (a colour per kind, labelled with reading order and
    /// kind), streamed page by page. Same as adding `layouts` to --format.
    #[arg(long, overrides_with = "no_layout_pdf")]
    layout_pdf: bool,

    /// Leave out `IN.layouts.pdf`. Rendering the pictures is most of the work on
    /// born-digital input (about 6× the CPU of the text outputs alone; BENCHMARKS.md).
    #[arg(long, overrides_with = "layout_pdf")]
    no_layout_pdf: bool,

    /// Also write `OUT/IN/IN.ocr.pdf` (PDF inputs): the input unchanged, plus an invisible
    /// text layer on every OCR page so viewers and `pdftotext` find the words where they
    /// are. Same as adding `searchable` to --format.
    #[arg(long)]
    searchable: bool,

    /// Resolution of figure crops (`OUT/IN/images/`) of vector drawings and OCR image
    /// regions; embedded images are cropped at their own resolution, up to twice this.
    #[arg(long, value_name = "DPI", default_value_t = 150, value_parser = clap::value_parser!(u32).range(36..=600))]
    figure_dpi: u32,

    /// Resolution of the page pictures in the layout PDF.
    #[arg(long, value_name = "DPI", default_value_t = 100, value_parser = clap::value_parser!(u32).range(36..=300))]
    layout_dpi: u32,

    /// How tables are written in `IN.md`: `auto` as pipe tables, or HTML when a cell
    /// spans rows or columns; `markdown` always pipe tables (a spanning cell's text in its
    /// first position); `html` always HTML.
    #[arg(long, value_enum, value_name = "FORM", default_value_t = TableFormat::Auto)]
    table_format: TableFormat,

    /// When to OCR: `auto` OCRs pages without a text layer, `always` every page, `never`
    /// none.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = OcrWhen::Auto)]
    ocr: OcrWhen,
}

pub fn run(args: ConvertArgs) -> anyhow::Result<u8> {
    let formats = Formats {
        hocr: args.format.hocr || args.hocr,
        layouts: (args.format.layouts || args.layout_pdf) && !args.no_layout_pdf,
        searchable: args.format.searchable || args.searchable,
        tables: args.table_format.into(),
        ..args.format
    };
    let kind = JobKind {
        mode: args.ocr.into(),
        formats,
        layout_dpi: args.layout_dpi,
        figure_dpi: args.figure_dpi,
        erase: formats.erased.then(Default::default),
        upscale: None,
    };
    job::run(&args.job, kind)
}
