//! The text sinks fed arbitrary pages (any kinds, boxes, fonts and text, including NaN
//! boxes, empty and huge strings, tables whose cells disagree with their size): Markdown,
//! detections, JSON and hOCR never panic, and the JSON is always one valid document.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use pagemill_core::model::DocInfo;
use pagemill_core::model::{BlockKind, FailureReason, Line, PageFailure, Table, TableCell, Word};
use pagemill_core::{BBox, Block, Page, PageOutcome};
use pagemill_export::{DetWriter, DocumentSummary, HocrWriter, JsonWriter, MarkdownWriter};

const KINDS: [BlockKind; 11] = [
    BlockKind::Heading,
    BlockKind::Paragraph,
    BlockKind::ListItem,
    BlockKind::Code,
    BlockKind::PageHeader,
    BlockKind::PageFooter,
    BlockKind::PageNumber,
    BlockKind::Footnote,
    BlockKind::Toc,
    BlockKind::Figure,
    BlockKind::Table,
];

fn number(u: &mut Unstructured<'_>) -> Result<f32> {
    Ok(match u.int_in_range(0..=9)? {
        0 => f32::NAN,
        1 => f32::INFINITY,
        2 => -1.0e9,
        _ => f32::from(u.arbitrary::<i16>()?) / 4.0,
    })
}

fn bbox(u: &mut Unstructured<'_>) -> Result<BBox> {
    Ok(BBox::new(number(u)?, number(u)?, number(u)?, number(u)?))
}

fn text(u: &mut Unstructured<'_>) -> Result<String> {
    u.arbitrary::<String>()
}

/// Any table: sizes up to the full `u32` range, cells anywhere, spans of any length.
fn table(u: &mut Unstructured<'_>) -> Result<Table> {
    let mut cells = Vec::new();
    for _ in 0..u.int_in_range(0..=6)? {
        cells.push(TableCell {
            row: u.arbitrary()?,
            col: u.arbitrary()?,
            rowspan: u.arbitrary()?,
            colspan: u.arbitrary()?,
            bbox: bbox(u)?,
            text: text(u)?,
            header: u.arbitrary()?,
        });
    }
    Ok(Table {
        rows: u.arbitrary()?,
        cols: u.arbitrary()?,
        cells,
        continued: u.arbitrary()?,
    })
}

fn block(u: &mut Unstructured<'_>) -> Result<Block> {
    let mut lines = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        let mut words = Vec::new();
        for _ in 0..u.int_in_range(0..=3)? {
            words.push(Word {
                bbox: bbox(u)?,
                text: text(u)?,
                confidence: number(u)?,
            });
        }
        lines.push(Line {
            bbox: bbox(u)?,
            text: text(u)?,
            words,
        });
    }
    let kind = *u.choose(&KINDS)?;
    Ok(Block {
        kind,
        level: u.arbitrary()?,
        bbox: bbox(u)?,
        text: text(u)?,
        font_size: number(u)?,
        font: u.arbitrary()?,
        bold: u.arbitrary()?,
        italic: u.arbitrary()?,
        confidence: number(u)?,
        lines,
        image: u.arbitrary()?,
        table: if kind == BlockKind::Table || u.ratio(1, 16)? {
            Some(table(u)?)
        } else {
            None
        },
        // Marks the furniture stage clears before any writer sees a page.
        margin: None,
        rotation: u.arbitrary()?,
        markdown: u.arbitrary()?,
    })
}

fn outcome(u: &mut Unstructured<'_>, index: u32) -> Result<PageOutcome> {
    if u.ratio(1, 8)? {
        return Ok(PageOutcome::Failed(PageFailure {
            index,
            reason: FailureReason::Crash,
            message: text(u)?,
        }));
    }
    let mut blocks = Vec::new();
    for _ in 0..u.int_in_range(0..=8)? {
        blocks.push(block(u)?);
    }
    Ok(PageOutcome::Ok(Page::new(
        index,
        number(u)?,
        number(u)?,
        blocks,
    )))
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let info = DocInfo {
        page_count: 3,
        pdf_version: None,
        title: None,
        kind: Default::default(),
    };
    let mut md = MarkdownWriter::new(Vec::new());
    let mut det = DetWriter::new(Vec::new());
    let mut json = JsonWriter::new(Vec::new(), "fuzz.pdf", &info).unwrap();
    let mut hocr = HocrWriter::new(Vec::new(), "fuzz.pdf").unwrap();
    let mut pages = 0;
    for index in 0..3 {
        let Ok(o) = outcome(&mut u, index) else {
            break;
        };
        md.page(&o).unwrap();
        det.page(&o).unwrap();
        json.page(&o).unwrap();
        hocr.page(&o).unwrap();
        pages += 1;
    }
    md.finish().unwrap();
    det.finish().unwrap();
    hocr.finish().unwrap();
    let bytes = json
        .finish(&DocumentSummary {
            pages,
            ..Default::default()
        })
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&bytes).expect("valid JSON");
    assert_eq!(doc["pages"].as_array().map(Vec::len), Some(pages as usize));
});
