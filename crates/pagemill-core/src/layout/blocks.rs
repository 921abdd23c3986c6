//! Stage 2: lines → blocks.
//!
//! A line joins the block before it (in text order) when it sits just below it, overlaps
//! it horizontally and has the same style; a first-line indent after a short line, a
//! bullet, a jump upwards (next column) or a change of size, weight or pitch starts a new
//! block.

use super::lines::TextLine;
use crate::model::BBox;

/// Lines that belong together, before they are classified.
#[derive(Debug, Clone, PartialEq)]
pub struct LineGroup {
    /// The union of the lines' boxes.
    pub bbox: BBox,
    /// The lines, top to bottom.
    pub lines: Vec<TextLine>,
}

impl LineGroup {
    fn new(line: TextLine) -> Self {
        LineGroup {
            bbox: line.bbox,
            lines: vec![line],
        }
    }
    /// Character-weighted mean of a per-line statistic.
    pub fn weighted(&self, f: impl Fn(&TextLine) -> f32) -> f32 {
        let (sum, n) = self.lines.iter().fold((0.0, 0.0), |(s, n), l| {
            (s + f(l) * l.chars as f32, n + l.chars as f32)
        });
        if n > 0.0 {
            sum / n
        } else {
            0.0
        }
    }
    /// Non-space characters in the group.
    pub fn chars(&self) -> u32 {
        self.lines.iter().map(|l| l.chars).sum()
    }
}

/// Whether a line starts with a list marker (bullet, `1.`, `(a)`, `iv)` …).
pub fn starts_list_item(text: &str) -> bool {
    let t = text.trim_start();
    let mut it = t.chars();
    let Some(first) = it.next() else { return false };
    if matches!(
        first,
        '•' | '◦' | '▪' | '‣' | '●' | '○' | '■' | '□' | '➢' | '►' | '–' | '·'
    ) && it.next().is_some_and(|c| c.is_whitespace())
    {
        return true;
    }
    if matches!(first, '-' | '*') && it.next() == Some(' ') {
        return true;
    }
    // Enumerators: up to 3 digits or one letter / short roman numeral, then `.` or `)`,
    // optionally opened by `(`, then a space.
    let body = t.strip_prefix('(').unwrap_or(t);
    let Some(end) = body.find(['.', ')']) else {
        return false;
    };
    let (label, rest) = body.split_at(end);
    let followed_by_space = rest[1..].starts_with(' ');
    let numeric =
        !label.is_empty() && label.len() <= 3 && label.bytes().all(|b| b.is_ascii_digit());
    let letter = label.len() == 1 && label.bytes().all(|b| b.is_ascii_lowercase());
    let roman = (1..=4).contains(&label.len()) && label.bytes().all(|b| b"ivx".contains(&b));
    // "1." alone is common in prose numbering; require the `)` form or a short label.
    followed_by_space
        && (numeric || ((letter || roman) && (rest.starts_with(')') || t.starts_with('('))))
}

/// How many recent blocks a line may join. Content streams often interleave regions
/// (row by row across columns or table cells), so the block a line continues is not always
/// the last one started.
const OPEN_BLOCKS: usize = 8;

/// Groups lines (in text order) into blocks.
pub fn group_lines(lines: Vec<TextLine>) -> Vec<LineGroup> {
    let mut groups: Vec<LineGroup> = Vec::new();
    for line in lines {
        let start = groups.len().saturating_sub(OPEN_BLOCKS);
        match (start..groups.len())
            .rev()
            .find(|&i| joins(&groups[i], &line))
        {
            Some(i) => {
                let g = &mut groups[i];
                g.bbox = g.bbox.union(&line.bbox);
                g.lines.push(line);
            }
            None => groups.push(LineGroup::new(line)),
        }
    }
    groups
}

fn joins(g: &LineGroup, line: &TextLine) -> bool {
    let Some(prev) = g.lines.last() else {
        return false;
    };
    let size = prev.size.max(line.size).max(1.0);
    // Style: size within 15 %, same pitch, whole-line bold does not mix with regular.
    if (prev.size - line.size).abs() > 0.15 * size {
        return false;
    }
    if (prev.mono > 0.5) != (line.mono > 0.5) {
        return false;
    }
    if (prev.bold > 0.9) != (line.bold > 0.9) {
        return false;
    }
    // Position: just below, overlapping horizontally.
    let gap = line.bbox.y0 - prev.bbox.y1;
    let height = prev.bbox.height().min(line.bbox.height()).max(1.0);
    if line.bbox.y0 < prev.bbox.y0 + 0.5 * height {
        return false; // same band again or upwards: another column or a new region
    }
    let mut max_gap = 0.5 * height;
    if g.lines.len() >= 2 {
        // Follow the block's own leading: a paragraph set with loose leading stays whole.
        let l = &g.lines[g.lines.len() - 2];
        let typical = prev.bbox.y0 - l.bbox.y1;
        max_gap = max_gap.max(typical + 0.25 * height);
    }
    if gap > max_gap || g.bbox.x_overlap(&line.bbox) <= 0.0 {
        return false;
    }
    if starts_list_item(&line.text) && prev.mono < 0.5 {
        return false;
    }
    // A first-line indent after a line that stopped short: a new paragraph.
    let em = size;
    let indented = line.bbox.x0 > g.bbox.x0 + 0.8 * em && line.bbox.x0 < g.bbox.x0 + 6.0 * em;
    let prev_short = prev.bbox.x1 < g.bbox.x1 - 2.0 * em;
    if line.mono < 0.5 && indented && prev_short {
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::super::lines::build_lines;
    use super::super::testutil::*;
    use super::*;

    fn groups_of(c: Vec<crate::layout::RawChar>) -> Vec<Vec<String>> {
        let p = page(c);
        group_lines(build_lines(&p.chars, &p.fonts))
            .into_iter()
            .map(|g| g.lines.into_iter().map(|l| l.text).collect())
            .collect()
    }

    #[test]
    fn paragraph_breaks_on_gap_indent_and_style() {
        let mut c = Vec::new();
        set_text(&mut c, "Heading In Bold", 50.0, 80.0, 10.0, 1);
        set_text(
            &mut c,
            "first paragraph line one that is long",
            50.0,
            94.0,
            10.0,
            0,
        );
        set_text(&mut c, "and line two.", 50.0, 106.0, 10.0, 0);
        set_text(
            &mut c,
            "second paragraph after indent and long",
            70.0,
            118.0,
            10.0,
            0,
        );
        set_text(&mut c, "third after a gap", 50.0, 160.0, 10.0, 0);
        let g = groups_of(c);
        assert_eq!(g.len(), 4, "{g:?}");
        assert_eq!(g[1].len(), 2, "{g:?}");
    }

    #[test]
    fn list_markers() {
        for t in [
            "• item", "- item", "1. item", "12) item", "(a) item", "iv) item",
        ] {
            assert!(starts_list_item(t), "{t}");
        }
        for t in ["1.5 million", "-3 degrees", "e.g. this", "Item", "a.b"] {
            assert!(!starts_list_item(t), "{t}");
        }
    }
}
