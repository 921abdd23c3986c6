//! Figures among the text: which picture regions count, and where they go in reading order.
//!
//! The engines report candidates: a PDF's image objects and clusters of vector paths, or the
//! image regions OCR found. [`place_figures`] merges pieces of one picture, drops what is
//! not a figure (decorations, page backgrounds, shaded text boxes and tables) and inserts
//! the rest into the page's blocks where a reader meets them.

use serde::{Deserialize, Serialize};

use super::headings::is_caption;
use super::order::insert_in_reading_order;
use crate::model::{BBox, Block, BlockKind, Page};

/// A figure's shorter side must reach this (points): smaller pictures are bullets, icons,
/// rules and logos.
pub const MIN_SIDE: f32 = 30.0;
/// A figure covers at least this share of the page.
const MIN_PAGE_SHARE: f32 = 0.01;
/// Pieces this near (points) are one picture (tiled images, an image with vector callouts).
const MERGE_GAP: f32 = 2.0;
/// Images smaller than this on both sides (points) never start a figure.
const SPECK: f32 = 8.0;
/// Most candidates considered on a page (the largest ones): merging is quadratic.
const MAX_CANDIDATES: usize = 2000;
/// A picture covering this share of the page with body text on it is the page's background.
const BACKGROUND_SHARE: f32 = 0.5;
/// A picture whose area is more than this share text is a table, or a shaded box or
/// panel behind text (drawn, or an image).
const MAX_TEXT_SHARE: f32 = 0.4;

/// Where a candidate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawFigureKind {
    /// An image object of the PDF.
    Image,
    /// A cluster of vector paths.
    Drawing,
    /// An image region found by OCR layout analysis.
    Region,
}

/// A candidate figure, in the page's displayed frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RawFigure {
    /// The region.
    pub bbox: BBox,
    /// What it was found as.
    pub kind: RawFigureKind,
    /// Images: their resolution as placed on the page (pixels per inch), the resolution to
    /// crop them at.
    pub dpi: Option<f32>,
}

/// A figure that made it onto the page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlacedFigure {
    /// Index of its [`BlockKind::Figure`] block in [`Page::blocks`].
    pub block: usize,
    /// The resolution to crop it at, when it is one image.
    pub dpi: Option<f32>,
}

/// Merges, filters and places `candidates` into `page.blocks`; returns the figures in
/// reading order.
pub fn place_figures(page: &mut Page, candidates: &[RawFigure]) -> Vec<PlacedFigure> {
    let page_area = page.width * page.height;
    // Backgrounds go first, or every picture on them would merge into them.
    let candidates: Vec<RawFigure> = candidates
        .iter()
        .filter(|f| !is_background(f, &page.blocks, page_area))
        .copied()
        .collect();
    let merged = merge(&candidates);
    let kept: Vec<RawFigure> = merged
        .into_iter()
        .filter(|f| {
            let b = &f.bbox;
            b.width().min(b.height()) >= MIN_SIDE && area(b) >= page_area * MIN_PAGE_SHARE
        })
        .filter(|f| !is_background(f, &page.blocks, page_area))
        .filter(|f| text_share(&f.bbox, &page.blocks) <= MAX_TEXT_SHARE)
        .collect();
    if kept.is_empty() {
        return Vec::new();
    }
    let dpis: Vec<Option<f32>> = kept.iter().map(|f| f.dpi).collect();
    let figures: Vec<Block> = kept
        .iter()
        .map(|f| {
            let mut fig = Block::figure(f.bbox);
            take_labels(&mut page.blocks, &mut fig, page.body_font_size);
            fig
        })
        .collect();
    let at = insert_in_reading_order(&mut page.blocks, figures);
    let mut placed: Vec<PlacedFigure> = at
        .into_iter()
        .zip(dpis)
        .map(|(block, dpi)| PlacedFigure { block, dpi })
        .collect();
    placed.sort_by_key(|p| p.block);
    placed
}

/// Moves the text inside a figure (axis labels, callouts, a diagram's symbols) from the
/// page's blocks into the figure's own text and lines, in reading order: short blocks (at
/// most three lines, 120 characters) lying within it and set smaller than the body, or
/// a few characters long in the body's size (a title set large over a banner stays). Without this a chart's labels become dozens of tiny paragraphs,
/// and one may land in the middle of a sentence. Captions stay with the text.
fn take_labels(blocks: &mut Vec<Block>, fig: &mut Block, body: f32) {
    let is_label = |b: &Block| {
        let chars = b.text.chars().filter(|c| !c.is_whitespace()).count();
        matches!(
            b.kind,
            BlockKind::Paragraph | BlockKind::Heading | BlockKind::ListItem
        ) && overlap(&b.bbox, &fig.bbox) >= 0.8 * area(&b.bbox)
            && b.lines.len() <= 3
            && chars <= 120
            && (b.font_size <= 0.95 * body || (chars <= 12 && b.font_size < 1.12 * body))
            && !is_caption(&b.text)
    };
    let mut labels: Vec<Block> = Vec::new();
    let mut i = 0;
    while i < blocks.len() {
        if is_label(&blocks[i]) {
            labels.push(blocks.remove(i));
        } else {
            i += 1;
        }
    }
    if labels.is_empty() {
        return;
    }
    fig.text = labels
        .iter()
        .map(|b| b.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    fig.font_size = labels[0].font_size;
    fig.lines = labels.into_iter().flat_map(|b| b.lines).collect();
}

fn area(b: &BBox) -> f32 {
    b.width() * b.height()
}

fn overlap(a: &BBox, b: &BBox) -> f32 {
    a.x_overlap(b) * a.y_overlap(b)
}

/// Unites candidates lying within [`MERGE_GAP`] of each other until none do.
fn merge(candidates: &[RawFigure]) -> Vec<RawFigure> {
    let mut figs: Vec<RawFigure> = candidates
        .iter()
        .filter(|f| f.bbox.width().max(f.bbox.height()) >= SPECK)
        .copied()
        .collect();
    if figs.len() > MAX_CANDIDATES {
        figs.sort_by(|a, b| area(&b.bbox).total_cmp(&area(&a.bbox)));
        figs.truncate(MAX_CANDIDATES);
    }
    let near = |a: &BBox, b: &BBox| {
        a.x0 - MERGE_GAP <= b.x1
            && b.x0 - MERGE_GAP <= a.x1
            && a.y0 - MERGE_GAP <= b.y1
            && b.y0 - MERGE_GAP <= a.y1
    };
    loop {
        let mut changed = false;
        let mut out: Vec<RawFigure> = Vec::with_capacity(figs.len());
        for f in figs {
            match out.iter_mut().find(|o| near(&o.bbox, &f.bbox)) {
                Some(o) => {
                    o.bbox = o.bbox.union(&f.bbox);
                    // One image stays one image; anything combined is cropped as a region.
                    o.kind = if o.kind == f.kind {
                        o.kind
                    } else {
                        RawFigureKind::Region
                    };
                    o.dpi = match (o.dpi, f.dpi) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        (a, b) => a.or(b),
                    };
                    changed = true;
                }
                None => out.push(f),
            }
        }
        figs = out;
        if !changed {
            return figs;
        }
    }
}

/// A page-sized picture with body text on it (slides, letterheads, forms).
fn is_background(f: &RawFigure, blocks: &[Block], page_area: f32) -> bool {
    area(&f.bbox) >= page_area * BACKGROUND_SHARE
        && blocks.iter().any(|b| {
            !b.kind.is_furniture()
                && b.kind != BlockKind::Figure
                && overlap(&b.bbox, &f.bbox) > 0.5 * area(&b.bbox)
        })
}

/// Share of `region` covered by text blocks.
fn text_share(region: &BBox, blocks: &[Block]) -> f32 {
    let text: f32 = blocks
        .iter()
        .filter(|b| b.kind != BlockKind::Figure)
        .map(|b| overlap(&b.bbox, region))
        .sum();
    text / area(region).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Block;

    fn text(x0: f32, y0: f32, x1: f32, y1: f32, t: &str) -> Block {
        let mut b = Block::figure(BBox::new(x0, y0, x1, y1));
        b.kind = BlockKind::Paragraph;
        b.text = t.into();
        b
    }

    fn fig(x0: f32, y0: f32, x1: f32, y1: f32, kind: RawFigureKind) -> RawFigure {
        RawFigure {
            bbox: BBox::new(x0, y0, x1, y1),
            kind,
            dpi: Some(150.0),
        }
    }

    fn kinds(p: &Page) -> Vec<&str> {
        p.blocks
            .iter()
            .map(|b| {
                if b.kind == BlockKind::Figure {
                    "F"
                } else {
                    b.text.as_str()
                }
            })
            .collect()
    }

    #[test]
    fn labels_inside_a_figure_become_its_text() {
        let sized = |b: Block, size: f32| Block {
            font_size: size,
            ..b
        };
        let mut page = Page::new(
            0,
            612.0,
            792.0,
            vec![
                sized(
                    text(
                        72.0,
                        100.0,
                        540.0,
                        160.0,
                        "A paragraph of body text above the chart, long enough to be prose.",
                    ),
                    10.0,
                ),
                sized(text(100.0, 220.0, 160.0, 230.0, "Nut case"), 8.0),
                sized(text(300.0, 300.0, 380.0, 310.0, "Locking shoulder"), 8.0),
                sized(
                    text(
                        72.0,
                        420.0,
                        300.0,
                        432.0,
                        "Figure 7-27. Stainless steel nut.",
                    ),
                    8.0,
                ),
                sized(
                    text(
                        72.0,
                        450.0,
                        540.0,
                        500.0,
                        "Body text below the figure goes on here.",
                    ),
                    10.0,
                ),
            ],
        );
        let placed = place_figures(
            &mut page,
            &[fig(72.0, 200.0, 540.0, 400.0, RawFigureKind::Image)],
        );
        assert_eq!(placed.len(), 1);
        let f = &page.blocks[placed[0].block];
        assert_eq!(f.text, "Nut case\nLocking shoulder");
        assert_eq!(kinds(&page)[2], "Figure 7-27. Stainless steel nut.");
        assert_eq!(page.blocks.len(), 4);
    }

    #[test]
    fn figure_goes_between_the_text_above_and_its_caption() {
        let mut p = Page::new(
            0,
            612.0,
            792.0,
            vec![
                text(72.0, 72.0, 540.0, 120.0, "intro"),
                text(72.0, 400.0, 540.0, 420.0, "caption"),
            ],
        );
        let placed = place_figures(
            &mut p,
            &[fig(100.0, 140.0, 500.0, 390.0, RawFigureKind::Image)],
        );
        assert_eq!(kinds(&p), vec!["intro", "F", "caption"]);
        assert_eq!(
            placed,
            vec![PlacedFigure {
                block: 1,
                dpi: Some(150.0)
            }]
        );
    }

    #[test]
    fn figure_in_the_left_column_reads_before_the_right_column() {
        let mut p = Page::new(
            0,
            612.0,
            792.0,
            vec![
                text(50.0, 100.0, 290.0, 300.0, "left"),
                text(320.0, 100.0, 560.0, 700.0, "right"),
            ],
        );
        place_figures(
            &mut p,
            &[fig(50.0, 320.0, 290.0, 600.0, RawFigureKind::Image)],
        );
        assert_eq!(kinds(&p), vec!["left", "F", "right"]);
    }

    #[test]
    fn tiles_merge_and_specks_and_backgrounds_go() {
        let mut p = Page::new(
            0,
            612.0,
            792.0,
            vec![text(72.0, 72.0, 540.0, 300.0, "body")],
        );
        let placed = place_figures(
            &mut p,
            &[
                // Two tiles of one picture.
                fig(100.0, 400.0, 300.0, 500.0, RawFigureKind::Image),
                fig(100.0, 500.0, 300.0, 600.0, RawFigureKind::Image),
                // A bullet and a rule-sized logo.
                fig(60.0, 80.0, 66.0, 86.0, RawFigureKind::Image),
                fig(400.0, 700.0, 560.0, 720.0, RawFigureKind::Image),
                // The page's background, under the body text.
                fig(0.0, 0.0, 612.0, 792.0, RawFigureKind::Image),
            ],
        );
        assert_eq!(placed.len(), 1);
        assert_eq!(
            p.blocks[placed[0].block].bbox,
            BBox::new(100.0, 400.0, 300.0, 600.0)
        );
    }

    #[test]
    fn drawings_full_of_text_are_not_figures() {
        let mut p = Page::new(
            0,
            612.0,
            792.0,
            vec![
                text(72.0, 100.0, 540.0, 130.0, "row 1"),
                text(72.0, 130.0, 540.0, 160.0, "row 2"),
                text(72.0, 160.0, 540.0, 190.0, "row 3"),
            ],
        );
        // A shaded table behind the rows, and a chart with two labels.
        let placed = place_figures(
            &mut p,
            &[
                fig(70.0, 98.0, 542.0, 192.0, RawFigureKind::Drawing),
                fig(72.0, 300.0, 400.0, 600.0, RawFigureKind::Drawing),
            ],
        );
        assert_eq!(placed.len(), 1);
        assert_eq!(p.blocks[placed[0].block].bbox.y0, 300.0);
        assert_eq!(placed[0].dpi, Some(150.0));
    }
}
