//! Whether a page without text has anything on it to read, so that blank pages (the empty
//! backs of chapter openings) are not sent to OCR.
//!
//! The PDF engine counts what the page's objects paint while it walks them for figures
//! ([`PageInk`]); [`blankness`] turns the counts into a decision. The counts cannot see
//! colour, so a page whose objects may paint nothing visible (a full-page white rectangle,
//! a text object of spaces) is left to a render at very low resolution: the engine's
//! `page_has_ink`.

use serde::{Deserialize, Serialize};

use super::text_layer::TextLayerStats;
use super::RawPage;

/// What a page's objects paint, counted by the PDF engine (forms included, boxes clipped
/// to the visible page). Objects wholly outside the visible page are not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PageInk {
    /// Text objects, in any render mode, even those of spaces only.
    pub text_objects: u32,
    /// Image objects.
    pub images: u32,
    /// Path objects that paint (filled or stroked).
    pub paths: u32,
    /// Of [`PageInk::paths`], those whose box is a rule or a dot ([`is_sliver`]).
    pub sliver_paths: u32,
    /// Sum of the painting paths' boxes in square points: an upper bound of the area the
    /// paths cover (overlaps are counted twice, which errs towards "not blank").
    pub path_area: f32,
    /// Other objects: shadings, and objects whose type or box PDFium could not tell.
    pub other: u32,
    /// Annotations of the page; counted only when it has no text or image objects (the
    /// count reads the page's `/Annots`, which other pages need not pay for).
    pub annotations: u32,
    /// The walk over the objects stopped early (object budget, broken object): the counts
    /// are incomplete.
    pub truncated: bool,
}

/// What the counts say about a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Blankness {
    /// Text, an image, or drawings the page may show: not blank.
    NotBlank,
    /// Nothing painted, or only a sliver (a few rules or dots): blank.
    Blank,
    /// Only objects that may or may not paint anything visible (drawings beyond a sliver,
    /// shadings, text objects without characters, annotations): blank if a render of the
    /// page shows no ink (`page_has_ink` of the PDF engine).
    NeedsRender,
}

/// A box thinner than this (points) in one direction is a rule: a hairline, an underline,
/// a header or footer line (TeX's rules are 0.4 pt; figure code calls 2 pt a rule too).
pub const RULE_THICKNESS: f32 = 2.0;
/// A box no larger than this (points) both ways is a dot (a bullet, a stray mark). A glyph
/// drawn as an outline is larger at any readable size (a 10-point "o" is ~5 pt).
pub const DOT_SIZE: f32 = 3.0;
/// At most this many sliver paths leave a page blank: header and footer rules, the four
/// sides of a frame, a few marks. Text drawn as rules (a barcode, a dotted leader line)
/// takes more; such pages are rendered instead.
pub const MAX_SLIVER_PATHS: u32 = 8;
/// Share of the page the sliver paths' boxes may cover: a full-width rule on US Letter
/// (612 × 0.4 pt) is 0.05 %, eight of them 0.4 %. A stroke this small has nothing to read.
pub const SLIVER_SHARE: f32 = 0.005;

/// Whether a painting path with a `width` × `height` box (points) is a sliver: a rule
/// ([`RULE_THICKNESS`]) or a dot ([`DOT_SIZE`]).
pub fn is_sliver(width: f32, height: f32) -> bool {
    width.min(height) < RULE_THICKNESS || width.max(height) <= DOT_SIZE
}

/// Whether a page of `width` × `height` points, with text layer `layer` and objects `ink`,
/// has anything to read.
///
/// Characters of any kind (visible, invisible, unmapped) or an image make it
/// [`Blankness::NotBlank`]: those pages are read or OCRed as before (a scanned blank page
/// is an image, and is OCRed). A page with no objects, or only a few thin rules and dots
/// ([`MAX_SLIVER_PATHS`], [`SLIVER_SHARE`]), is [`Blankness::Blank`]. Anything else that
/// paints is [`Blankness::NeedsRender`].
pub fn blankness(ink: &PageInk, layer: &TextLayerStats, width: f32, height: f32) -> Blankness {
    if layer.visible + layer.invisible + layer.unmapped > 0 || ink.images > 0 {
        return Blankness::NotBlank;
    }
    let page_area = width * height;
    let sliver = ink.paths == ink.sliver_paths
        && ink.paths <= MAX_SLIVER_PATHS
        && (ink.paths == 0
            || page_area.is_finite() && ink.path_area < SLIVER_SHARE * page_area.max(0.0));
    if ink.truncated || ink.text_objects > 0 || ink.other > 0 || ink.annotations > 0 || !sliver {
        return Blankness::NeedsRender;
    }
    Blankness::Blank
}

impl RawPage {
    /// [`blankness`] of this page.
    pub fn blankness(&self) -> Blankness {
        blankness(&self.ink, &self.layer, self.width, self.height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LETTER: (f32, f32) = (612.0, 792.0);

    fn judge(ink: PageInk, layer: TextLayerStats) -> Blankness {
        blankness(&ink, &layer, LETTER.0, LETTER.1)
    }

    /// `n` full-width 0.4-pt rules.
    fn rules(n: u32) -> PageInk {
        PageInk {
            paths: n,
            sliver_paths: n,
            path_area: n as f32 * 612.0 * 0.4,
            ..PageInk::default()
        }
    }

    #[test]
    fn empty_page_is_blank() {
        assert_eq!(
            judge(PageInk::default(), TextLayerStats::default()),
            Blankness::Blank
        );
    }

    #[test]
    fn text_or_image_is_not_blank() {
        let layer = |visible, invisible, unmapped| TextLayerStats {
            visible,
            invisible,
            unmapped,
            paths: 0,
        };
        let ink = PageInk {
            text_objects: 1,
            ..PageInk::default()
        };
        assert_eq!(judge(ink, layer(3, 0, 0)), Blankness::NotBlank);
        assert_eq!(judge(ink, layer(0, 800, 0)), Blankness::NotBlank);
        assert_eq!(judge(ink, layer(0, 0, 40)), Blankness::NotBlank);
        let scan = PageInk {
            images: 1,
            ..PageInk::default()
        };
        assert_eq!(judge(scan, layer(0, 0, 0)), Blankness::NotBlank);
    }

    #[test]
    fn a_few_rules_are_a_sliver() {
        let none = TextLayerStats::default();
        assert_eq!(judge(rules(1), none), Blankness::Blank);
        assert_eq!(judge(rules(MAX_SLIVER_PATHS), none), Blankness::Blank);
        // A barcode, a page of leader dots: rendered, not assumed blank.
        assert_eq!(
            judge(rules(MAX_SLIVER_PATHS + 1), none),
            Blankness::NeedsRender
        );
        // Thick "rules" covering more than the sliver share.
        let wide = PageInk {
            path_area: 0.01 * LETTER.0 * LETTER.1,
            ..rules(2)
        };
        assert_eq!(judge(wide, none), Blankness::NeedsRender);
    }

    #[test]
    fn shapes_and_unknowns_need_a_render() {
        let none = TextLayerStats::default();
        // A full-page rectangle (white, maybe): only a render can tell.
        let rect = PageInk {
            paths: 1,
            path_area: LETTER.0 * LETTER.1,
            ..PageInk::default()
        };
        assert_eq!(judge(rect, none), Blankness::NeedsRender);
        // Four glyphs drawn as outlines: small in area, but not slivers.
        let glyphs = PageInk {
            paths: 4,
            path_area: 4.0 * 15.0 * 17.0,
            ..PageInk::default()
        };
        assert_eq!(judge(glyphs, none), Blankness::NeedsRender);
        for ink in [
            PageInk {
                text_objects: 1,
                ..PageInk::default()
            },
            PageInk {
                other: 1,
                ..PageInk::default()
            },
            PageInk {
                annotations: 2,
                ..PageInk::default()
            },
            PageInk {
                truncated: true,
                ..PageInk::default()
            },
        ] {
            assert_eq!(judge(ink, none), Blankness::NeedsRender, "{ink:?}");
        }
    }

    #[test]
    fn slivers_are_rules_and_dots() {
        assert!(is_sliver(612.0, 0.4));
        assert!(is_sliver(0.5, 700.0));
        assert!(is_sliver(2.5, 2.5));
        assert!(!is_sliver(5.0, 7.0));
        assert!(!is_sliver(612.0, 792.0));
    }

    #[test]
    fn raw_page_uses_its_own_counts() {
        let mut page = RawPage {
            width: LETTER.0,
            height: LETTER.1,
            ..RawPage::default()
        };
        assert_eq!(page.blankness(), Blankness::Blank);
        page.ink.images = 1;
        assert_eq!(page.blankness(), Blankness::NotBlank);
    }
}
