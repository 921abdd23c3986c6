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
    /// A line set apart from the paragraph it opened or stood in by its font alone (no
    /// gap): a run-in heading on its own line (see [`split_styled_lines`]).
    pub styled_line: bool,
}

impl LineGroup {
    fn new(line: TextLine) -> Self {
        LineGroup {
            bbox: line.bbox,
            lines: vec![line],
            styled_line: false,
        }
    }

    fn of(lines: Vec<TextLine>, styled_line: bool) -> Self {
        let bbox = lines
            .iter()
            .skip(1)
            .fold(lines[0].bbox, |b, l| b.union(&l.bbox));
        LineGroup {
            bbox,
            lines,
            styled_line,
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
    let mut groups = split_styled_lines(groups);
    mark_lone_styled_lines(&mut groups);
    groups
}

/// A one-line block right above a paragraph (within a line and a half), wholly in a font
/// other than the paragraph's and stopping short or over an indented first line, is the
/// same kind of heading as [`split_styled_lines`] sets apart, only with a little more space
/// under it.
fn mark_lone_styled_lines(groups: &mut [LineGroup]) {
    for k in 0..groups.len().saturating_sub(1) {
        let (head, rest) = groups.split_at_mut(k + 1);
        let g = &mut head[k];
        let Some(next) = rest
            .iter()
            .find(|n| n.bbox.y0 >= g.bbox.y1 && n.bbox.x_overlap(&g.bbox) > 0.0)
        else {
            continue;
        };
        if g.lines.len() != 1 || next.lines.len() < 2 {
            continue;
        }
        let (l, n) = (&g.lines[0], &next.lines[0]);
        let em = l.size.max(1.0);
        let close = n.bbox.y0 - l.bbox.y1 <= 1.5 * l.bbox.height().max(1.0);
        let aligned = (n.bbox.x0 - l.bbox.x0).abs() <= 2.0 * em;
        let short = l.bbox.x1 < next.bbox.x1 - 2.0 * em;
        let indented = n.bbox.x0 > next.bbox.x0 + 0.5 * em;
        if close
            && aligned
            && l.font != n.font
            && next.lines[1].font != l.font
            && n.mono < 0.5
            && heading_like(l)
            && (short || indented)
        {
            g.styled_line = true;
        }
    }
}

/// Whether a line could be a heading set apart by its font alone: wholly in one font, prose
/// (not code, not a bullet), at least three characters, opening with a capital (or a
/// letter without case, or a section number), and not ending like a sentence or a lead-in
/// (`For example:`).
fn heading_like(l: &TextLine) -> bool {
    let text = l.text.trim();
    let first_letter = text.chars().find(|c| c.is_alphabetic());
    // A sentence ending inside the line (past its first word, where `1.2` and `Fig.` sit).
    let first_word = text.find(' ').unwrap_or(text.len());
    let sentence_inside = text[first_word..].contains(". ");
    l.font_share >= 0.95
        && l.mono < 0.5
        && l.chars >= 3
        && first_letter.is_some_and(|c| !c.is_lowercase())
        && !text.ends_with(['.', ',', ';', ':', '!', '?'])
        && !sentence_inside
        && (!starts_list_item(text) || text.starts_with(|c: char| c.is_ascii_digit() || c == '('))
}

/// Sets apart a line that a heading set in its own font makes: wholly in one font that
/// differs from the next line's (and the previous line's, which ended its paragraph), and
/// either stopping short of the block's right edge or followed by an indented first line.
/// Handbooks and reports put such headings right above their paragraph, with no more space
/// than between lines (`Boots Self-Locking Nut` in italics over roman text; a section
/// title in a medium sans over a light serif body).
pub fn split_styled_lines(groups: Vec<LineGroup>) -> Vec<LineGroup> {
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        if g.lines.len() < 2 {
            out.push(g);
            continue;
        }
        let (x0, x1) = (g.bbox.x0, g.bbox.x1);
        let styled = |i: usize| {
            let l = &g.lines[i];
            let Some(next) = g.lines.get(i + 1) else {
                return false;
            };
            let em = l.size.max(1.0);
            let short = l.bbox.x1 < x1 - 2.0 * em;
            let next_indented = next.bbox.x0 > x0 + 0.5 * em;
            let opens = match i.checked_sub(1).map(|p| &g.lines[p]) {
                None => true,
                Some(prev) => {
                    prev.font != l.font
                        && (prev.text.trim_end().ends_with(['.', ':', '!', '?'])
                            || prev.bbox.x1 < x1 - 2.0 * em)
                }
            };
            heading_like(l)
                && next.font != l.font
                && next.mono < 0.5
                && (short || next_indented)
                && opens
        };
        let cuts: Vec<usize> = (0..g.lines.len()).filter(|&i| styled(i)).collect();
        if cuts.is_empty() {
            out.push(g);
            continue;
        }
        let mut lines = g.lines.into_iter().enumerate().peekable();
        let mut run = Vec::new();
        while let Some((i, l)) = lines.next() {
            if cuts.contains(&i) {
                if !run.is_empty() {
                    out.push(LineGroup::of(std::mem::take(&mut run), false));
                }
                out.push(LineGroup::of(vec![l], true));
            } else {
                run.push(l);
            }
            if lines.peek().is_none() && !run.is_empty() {
                out.push(LineGroup::of(std::mem::take(&mut run), false));
            }
        }
    }
    out
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
    // A first-line indent after a line that stopped short: a new paragraph. Justified
    // text may fill the last line of a paragraph; there an indent like the one the block
    // opened with, after flush lines, tells (notes set one per line with hanging
    // continuations open flush, so they never split this way).
    let em = size;
    let indented = line.bbox.x0 > g.bbox.x0 + 0.8 * em && line.bbox.x0 < g.bbox.x0 + 6.0 * em;
    let prev_short = prev.bbox.x1 < g.bbox.x1 - 2.0 * em;
    let flush = |l: &TextLine| (l.bbox.x0 - g.bbox.x0).abs() < 0.3 * em;
    let opened_indented = (g.lines[0].bbox.x0 - line.bbox.x0).abs() < 0.3 * em;
    let after_flush_lines = opened_indented && g.lines.len() >= 2 && g.lines[1..].iter().all(flush);
    if line.mono < 0.5 && indented && (prev_short || after_flush_lines) {
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
    fn a_first_line_indent_after_a_full_line_starts_a_paragraph() {
        let mut c = Vec::new();
        let full = "justified text that fills the whole measure of its column";
        set_text(&mut c, full, 60.0, 100.0, 10.0, 0);
        set_text(&mut c, full, 50.0, 112.0, 10.0, 0);
        set_text(&mut c, full, 50.0, 124.0, 10.0, 0);
        set_text(&mut c, "A new paragraph opens here", 60.0, 136.0, 10.0, 0);
        set_text(&mut c, full, 50.0, 148.0, 10.0, 0);
        // A hanging indent: flush first line, the rest indented.
        set_text(
            &mut c,
            "Term: a definition that wraps",
            50.0,
            200.0,
            10.0,
            0,
        );
        set_text(&mut c, "onto an indented second line", 60.0, 212.0, 10.0, 0);
        set_text(&mut c, "and an indented third line", 60.0, 224.0, 10.0, 0);
        let groups = groups_of(c);
        assert_eq!(groups.len(), 3, "{groups:?}");
        assert_eq!(groups[1][0], "A new paragraph opens here");
        assert_eq!(groups[2].len(), 3);
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
