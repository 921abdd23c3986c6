//! The document model: what a page turns into, whatever path (text layer or OCR) produced it.
//!
//! Coordinates are PDF points (1/72 in) in the page's *displayed* frame: origin at the
//! top-left corner of the visible (crop) box after `/Rotate` is applied, x to the right,
//! y downwards — the frame a person or an image tool sees.

use serde::{Deserialize, Serialize};

/// An axis-aligned box `[x0, y0, x1, y1]` with `x0 <= x1` and `y0 <= y1`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(from = "[f32; 4]", into = "[f32; 4]")]
pub struct BBox {
    /// Left edge.
    pub x0: f32,
    /// Top edge.
    pub y0: f32,
    /// Right edge.
    pub x1: f32,
    /// Bottom edge.
    pub y1: f32,
}

impl From<[f32; 4]> for BBox {
    fn from(v: [f32; 4]) -> Self {
        BBox::new(v[0], v[1], v[2], v[3])
    }
}

impl From<BBox> for [f32; 4] {
    fn from(b: BBox) -> Self {
        // Two decimals are far below a point's precision that matters and keep JSON small.
        let r = |v: f32| (v * 100.0).round() / 100.0;
        [r(b.x0), r(b.y0), r(b.x1), r(b.y1)]
    }
}

impl BBox {
    /// A box from two corners in any order.
    pub fn new(x0: f32, y0: f32, x1: f32, y1: f32) -> Self {
        BBox {
            x0: x0.min(x1),
            y0: y0.min(y1),
            x1: x0.max(x1),
            y1: y0.max(y1),
        }
    }
    /// Width (never negative).
    pub fn width(&self) -> f32 {
        self.x1 - self.x0
    }
    /// Height (never negative).
    pub fn height(&self) -> f32 {
        self.y1 - self.y0
    }
    /// Vertical centre.
    pub fn cy(&self) -> f32 {
        (self.y0 + self.y1) * 0.5
    }
    /// The smallest box holding both.
    pub fn union(&self, o: &BBox) -> BBox {
        BBox {
            x0: self.x0.min(o.x0),
            y0: self.y0.min(o.y0),
            x1: self.x1.max(o.x1),
            y1: self.y1.max(o.y1),
        }
    }
    /// Length of the overlap of the two x-ranges (0 when disjoint).
    pub fn x_overlap(&self, o: &BBox) -> f32 {
        (self.x1.min(o.x1) - self.x0.max(o.x0)).max(0.0)
    }
    /// Length of the overlap of the two y-ranges (0 when disjoint).
    pub fn y_overlap(&self, o: &BBox) -> f32 {
        (self.y1.min(o.y1) - self.y0.max(o.y0)).max(0.0)
    }
    /// This box on a 0–999 grid of a `width` × `height` page (the `.det.md` convention).
    pub fn to_grid(&self, width: f32, height: f32) -> [u16; 4] {
        let g = |v: f32, full: f32| -> u16 {
            if full <= 0.0 || !v.is_finite() {
                return 0;
            }
            ((v / full) * 999.0).round().clamp(0.0, 999.0) as u16
        };
        [
            g(self.x0, width),
            g(self.y0, height),
            g(self.x1, width),
            g(self.y1, height),
        ]
    }
}

/// What a block is. Serialized in `snake_case` (`"list_item"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    /// A section heading; [`Block::level`] holds its level (1 = largest).
    Heading,
    /// Body text.
    Paragraph,
    /// One item of a bulleted or numbered list.
    ListItem,
    /// Monospaced text (program code, terminal sessions); line breaks are significant.
    Code,
    /// Running header in the top margin (dropped from Markdown).
    PageHeader,
    /// Running footer in the bottom margin (dropped from Markdown).
    PageFooter,
    /// A page number in a margin (dropped from Markdown).
    PageNumber,
    /// A note at the foot of the page, set smaller than the body and opened by a marker
    /// (`1`, `*`, `†`). Markdown keeps it but moves it after the paragraph it interrupts.
    Footnote,
    /// Table-of-contents entries: one per line, `title … page`, leader dots collapsed.
    Toc,
    /// A picture: an embedded image, a vector drawing, or an image region OCR found. It has
    /// no text; [`Block::image`] names its cropped picture when one was written.
    Figure,
    /// A table: [`Block::table`] holds its cells; [`Block::text`] has its rows, one per
    /// line, cells separated by tabs.
    Table,
}

impl BlockKind {
    /// The `snake_case` name used in JSON and `.det.md`.
    pub fn as_str(&self) -> &'static str {
        match self {
            BlockKind::Heading => "heading",
            BlockKind::Paragraph => "paragraph",
            BlockKind::ListItem => "list_item",
            BlockKind::Code => "code",
            BlockKind::PageHeader => "page_header",
            BlockKind::PageFooter => "page_footer",
            BlockKind::PageNumber => "page_number",
            BlockKind::Footnote => "footnote",
            BlockKind::Toc => "toc",
            BlockKind::Figure => "figure",
            BlockKind::Table => "table",
        }
    }
    /// Page furniture: repeated on every page, not part of the reading text.
    pub fn is_furniture(&self) -> bool {
        matches!(
            self,
            BlockKind::PageHeader | BlockKind::PageFooter | BlockKind::PageNumber
        )
    }
}

/// One visual line of a block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// The line's box.
    pub bbox: BBox,
    /// The line's text, words separated by single spaces (code keeps its indentation).
    pub text: String,
    /// Recognised words with their confidences (OCR pages only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<Word>,
}

/// A word recognised by OCR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    /// The word's box.
    pub bbox: BBox,
    /// The word.
    pub text: String,
    /// Recognition confidence, 0.0–1.0; words below [`LOW_CONFIDENCE`] are kept in the
    /// text but deserve a second look.
    pub confidence: f32,
}

/// Word confidence under which a word is considered doubtful.
pub const LOW_CONFIDENCE: f32 = 0.6;

/// A block of text with one kind, in reading order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Block {
    /// What the block is.
    pub kind: BlockKind,
    /// Heading level (1–6) for headings, absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
    /// The block's box.
    pub bbox: BBox,
    /// The block's text: lines joined (de-hyphenated) for prose, kept line by line for code.
    pub text: String,
    /// Dominant font size in points.
    pub font_size: f32,
    /// Dominant font name as the PDF names it (subset prefix removed), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub font: Option<String>,
    /// Most of the block is bold.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bold: bool,
    /// Most of the block is italic.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub italic: bool,
    /// 1.0 for text taken from the PDF's text layer; the recogniser's confidence for OCR.
    pub confidence: f32,
    /// The block's lines, top to bottom.
    pub lines: Vec<Line>,
    /// Figures: the cropped picture, relative to the document's output directory
    /// (`images/<page>_<n>.jpg`, both 0-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Tables: the grid and its cells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<Table>,
    /// A short block in the top or bottom margin that may be a running header or footer.
    /// One page cannot tell (a caption or the last line of a list sits there too), so the
    /// page analysis only marks it; the furniture stage, which sees the neighbouring
    /// pages, turns it into [`BlockKind::PageHeader`]/[`BlockKind::PageFooter`] when it
    /// recurs, and clears the mark. Written outputs never carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub margin: Option<Margin>,
    /// Text that runs in another direction than the page's: counter-clockwise degrees (90
    /// reads bottom to top, 270 top to bottom, 180 upside down). Absent for upright text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<u16>,
    /// Prose blocks whose words differ in style: the text as Markdown, with `**bold**`,
    /// `*italic*` and `` `code` `` runs and escaped (absent when the plain text says it
    /// all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub markdown: Option<String>,
}

/// The page margin a running-header or -footer candidate sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Margin {
    /// Above the body.
    Top,
    /// Below the body.
    Bottom,
}

/// A table's structure: a grid of `rows` × `cols` base cells, some cells spanning several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Base rows.
    pub rows: u32,
    /// Base columns.
    pub cols: u32,
    /// The cells row by row, left to right; a spanning cell once, at its top-left base
    /// cell. Every base cell is covered by exactly one cell (empty ones included).
    pub cells: Vec<TableCell>,
    /// This table continues the table that ended the previous page: it opens its page
    /// and has the same columns. Set by the writers, which see pages in order.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub continued: bool,
}

impl Table {
    /// Whether any cell spans more than one row or column.
    pub fn has_spans(&self) -> bool {
        self.cells.iter().any(|c| c.rowspan > 1 || c.colspan > 1)
    }
}

/// One cell of a [`Table`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableCell {
    /// First base row (0 = top).
    pub row: u32,
    /// First base column (0 = left).
    pub col: u32,
    /// Rows covered (≥ 1).
    pub rowspan: u32,
    /// Columns covered (≥ 1).
    pub colspan: u32,
    /// The cell's box.
    pub bbox: BBox,
    /// The cell's text, its lines joined as prose (empty for an empty cell).
    pub text: String,
    /// A header cell (column headings at the top of the table).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub header: bool,
}

impl Block {
    /// A figure at `bbox`, without a picture yet.
    pub fn figure(bbox: BBox) -> Block {
        Block {
            kind: BlockKind::Figure,
            level: None,
            bbox,
            text: String::new(),
            font_size: 0.0,
            font: None,
            bold: false,
            italic: false,
            confidence: 1.0,
            lines: Vec::new(),
            image: None,
            table: None,
            margin: None,
            rotation: None,
            markdown: None,
        }
    }
}

/// Where a page's text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextSource {
    /// The PDF's own text layer.
    TextLayer,
    /// Optical character recognition of the rendered page or image.
    Ocr,
    /// A page with nothing to read (no text, no image, at most a sliver of drawing); not
    /// OCRed. See [`crate::layout::blank`].
    Blank,
}

/// Why a page was OCRed rather than read from its text layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OcrReason {
    /// The page has no text layer.
    NoText,
    /// The page's only text is invisible (render mode 3, or clipped away): usually an old
    /// OCR layer that cannot be trusted to match the image.
    InvisibleText,
    /// The text layer does not map to readable Unicode (no ToUnicode map, private-use or
    /// replacement characters).
    UnmappedText,
    /// The text is drawn as vector outlines, so there is nothing to extract.
    TextAsCurves,
    /// `--ocr always`.
    Forced,
    /// The input is an image.
    Image,
}

/// A converted page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// 0-based page index in the document.
    pub index: u32,
    /// Displayed width in points.
    pub width: f32,
    /// Displayed height in points.
    pub height: f32,
    /// The page's `/Rotate` (0, 90, 180, 270).
    pub rotation: u16,
    /// Where the text came from.
    pub source: TextSource,
    /// Why the page was OCRed (absent for text-layer pages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocr_reason: Option<OcrReason>,
    /// OCR pages: degrees (90, 180, 270) the page image was turned clockwise to read its
    /// text (absent when it was upright).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocr_rotation: Option<u16>,
    /// OCR pages: the skew removed before recognition, in degrees clockwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocr_skew: Option<f32>,
    /// The page's body font size (the most used size), in points.
    pub body_font_size: f32,
    /// Blocks in reading order (furniture included, marked by kind).
    pub blocks: Vec<Block>,
}

impl Page {
    /// A text-layer page of `width`×`height` points holding `blocks` (the other facts at
    /// their defaults: no rotation, no OCR, a 10-point body).
    pub fn new(index: u32, width: f32, height: f32, blocks: Vec<Block>) -> Page {
        Page {
            index,
            width,
            height,
            rotation: 0,
            source: TextSource::TextLayer,
            ocr_reason: None,
            ocr_rotation: None,
            ocr_skew: None,
            body_font_size: 10.0,
            blocks,
        }
    }
}

/// Why a page failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// The page could not be loaded or its content is broken.
    Invalid,
    /// The worker process died while working on the page (twice: the page is retried once).
    Crash,
    /// The page exceeded its deadline.
    Timeout,
    /// The page needed more memory than allowed.
    Memory,
}

impl FileErrorKind {
    /// The `snake_case` name used in JSON and events.
    pub fn as_str(&self) -> &'static str {
        match self {
            FileErrorKind::NotFound => "not_found",
            FileErrorKind::TooLarge => "too_large",
            FileErrorKind::TooManyPages => "too_many_pages",
            FileErrorKind::PasswordRequired => "password_required",
            FileErrorKind::WrongPassword => "wrong_password",
            FileErrorKind::Unreadable => "unreadable",
            FileErrorKind::Output => "output",
            FileErrorKind::Interrupted => "interrupted",
        }
    }
}

impl FailureReason {
    /// The `snake_case` name used in JSON and summaries.
    pub fn as_str(&self) -> &'static str {
        match self {
            FailureReason::Invalid => "invalid",
            FailureReason::Crash => "crash",
            FailureReason::Timeout => "timeout",
            FailureReason::Memory => "memory",
        }
    }
}

/// Why a whole file failed, as a kind a front end can explain in its own terms (a flag,
/// a form field) beside the message for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileErrorKind {
    /// The input does not exist or is not readable.
    NotFound,
    /// The file is over the file size limit.
    TooLarge,
    /// The document has more pages than the page limit.
    TooManyPages,
    /// The PDF needs a user password and none was given.
    PasswordRequired,
    /// The password given does not open the PDF.
    WrongPassword,
    /// The file is not a PDF or an image that can be read (or is too damaged).
    #[default]
    Unreadable,
    /// The outputs could not be written.
    Output,
    /// The job was stopped before the document was complete.
    Interrupted,
}

/// A page that could not be converted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageFailure {
    /// 0-based page index.
    pub index: u32,
    /// Class of failure.
    pub reason: FailureReason,
    /// What happened, for a person.
    pub message: String,
}

/// The result for one page: converted, or failed with a reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PageOutcome {
    /// Converted.
    Ok(Page),
    /// Failed; the rest of the document goes on.
    Failed(PageFailure),
}

impl PageOutcome {
    /// 0-based page index.
    pub fn index(&self) -> u32 {
        match self {
            PageOutcome::Ok(p) => p.index,
            PageOutcome::Failed(f) => f.index,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bbox_normalises_corners_and_maps_to_grid() {
        let b = BBox::new(300.0, 400.0, 0.0, 0.0);
        assert_eq!((b.x0, b.y0, b.x1, b.y1), (0.0, 0.0, 300.0, 400.0));
        assert_eq!(b.to_grid(600.0, 800.0), [0, 0, 500, 500]);
        assert_eq!(b.to_grid(0.0, 800.0), [0, 0, 0, 500]);
    }

    #[test]
    fn outcome_serialises_with_status_tag() {
        let f = PageOutcome::Failed(PageFailure {
            index: 3,
            reason: FailureReason::Timeout,
            message: "slow".into(),
        });
        let s = serde_json::to_string(&f).unwrap();
        assert!(s.contains(r#""status":"failed""#), "{s}");
        assert!(s.contains(r#""reason":"timeout""#), "{s}");
        let back: PageOutcome = serde_json::from_str(&s).unwrap();
        assert_eq!(back, f);
    }
}

/// Facts about an opened document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocInfo {
    /// Number of pages.
    pub page_count: u32,
    /// PDF version as `1.7`, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdf_version: Option<String>,
    /// `/Title` from the document information dictionary, if present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What kind of file it is.
    #[serde(default)]
    pub kind: DocKind,
}

/// What kind of file a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// A PDF.
    #[default]
    Pdf,
    /// A raster image (every page is OCRed).
    Image,
}
