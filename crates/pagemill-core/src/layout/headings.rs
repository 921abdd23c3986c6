//! Which short blocks are headings, beyond their size and weight: what their text says
//! (captions, addresses, dates and lower-case openings are not; numbered titles are), the
//! level a size or a section number gives, and headings broken over two lines.

use super::blocks::LineGroup;
use crate::model::{Block, BlockKind};

/// Whether a block reads as a caption: `Figure 7-26. Self-locking nuts.`, `Table 3:`,
/// `Fig. 2`.
pub fn is_caption(text: &str) -> bool {
    let mut words = text.split_whitespace();
    let (Some(first), Some(second)) = (words.next(), words.next()) else {
        return false;
    };
    let first = first.trim_end_matches(['.', ':']).to_lowercase();
    const LABELS: [&str; 9] = [
        "figure",
        "fig",
        "table",
        "tab",
        "listing",
        "plate",
        "chart",
        "exhibit",
        "algorithm",
    ];
    LABELS.contains(&first.as_str())
        && second.starts_with(|c: char| c.is_ascii_digit() || "IVXivx".contains(c))
}

pub(crate) fn heading_level(ratio: f32, bold: bool) -> Option<u8> {
    match ratio {
        r if r >= 1.6 => Some(1),
        r if r >= 1.3 => Some(2),
        r if r >= 1.12 => Some(3),
        // Bold well under the body's size is a label (in a figure, a table), not a heading
        // (8 pt labels over a 10 pt body; a contents page's 9 pt bold title over 10 pt
        // entries is still one).
        r if bold && r >= 0.88 => Some(4),
        _ => None,
    }
}

/// Whether a short block could be a heading by its text: not a caption (`Figure 3: …`), not
/// an e-mail address or a web address, not opening in lower case (`end for` of an
/// algorithm, a sentence's continuation) unless `display` (set well above the body: a
/// title such as `gnuplot 5.4`).
pub(crate) fn may_be_heading(text: &str, display: bool) -> bool {
    let t = text.trim();
    let first_letter = t.chars().find(|c| c.is_alphabetic());
    let address = t.split_whitespace().count() <= 2
        && (t.contains('@') || t.starts_with("http") || t.starts_with("www."));
    !is_caption(t)
        && !address
        && !looks_like_date(t)
        && first_letter.is_some_and(|c| display || !c.is_lowercase())
}

/// `January 3, 2024`, `3 Jan 2024`, `2024-01-03`: a date line (a paper's, a letter's).
fn looks_like_date(text: &str) -> bool {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let year = |w: &str| w.len() == 4 && (w.starts_with("19") || w.starts_with("20"));
    let numeric = |w: &str| {
        let parts: Vec<&str> = w.split(['-', '/', '.']).collect();
        parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
    };
    match words.as_slice() {
        [w] => numeric(w),
        _ if words.len() <= 4 => {
            words.iter().any(|w| year(w))
                && words
                    .iter()
                    .any(|w| w.len() >= 3 && MONTHS.iter().any(|m| w.starts_with(m)))
                && words.iter().all(|w| {
                    w.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                        || MONTHS.iter().any(|m| w.starts_with(m))
                })
        }
        _ => false,
    }
}

/// A numbered section heading set as one line (`1. INTRODUCTION`, `2.3 Results` in bold):
/// the section number's depth, where a list item would otherwise be read. The rest of the
/// line must be in capitals or the whole line bold, short, and not end a sentence.
pub(crate) fn numbered_heading(g: &LineGroup, text: &str, bold: bool) -> Option<usize> {
    if g.lines.len() != 1 || text.chars().count() > 80 || text.ends_with(['.', ':', ',', ';']) {
        return None;
    }
    let (number, rest) = text.trim().split_once(' ')?;
    let digits = number.trim_end_matches('.');
    let parts: Vec<&str> = digits.split('.').collect();
    let numeric = !digits.is_empty()
        && parts.len() <= 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()));
    let letters: Vec<char> = rest.chars().filter(|c| c.is_alphabetic()).collect();
    let capitals = letters.len() >= 3 && letters.iter().all(|c| c.is_uppercase());
    (numeric && (capitals || bold) && may_be_heading(rest, false)).then_some(parts.len())
}

/// Whether a heading opens with a section number (`2.1 Scope`): a heading of its own.
fn starts_numbered(text: &str) -> bool {
    let first = text.split_whitespace().next().unwrap_or("");
    first.starts_with(|c: char| c.is_ascii_digit())
        && first.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// A heading broken over two lines that the grouping kept apart (a larger gap between its
/// lines than the body's) is one heading: two headings of one level and size, the second
/// right under the first (less than a line apart) and starting at its left edge or
/// centred with it.
pub(crate) fn join_broken_headings(blocks: &mut Vec<Block>) {
    let mut i = 0;
    while i + 1 < blocks.len() {
        let (a, b) = (&blocks[i], &blocks[i + 1]);
        let size = a.font_size.max(1.0);
        let joins = a.kind == BlockKind::Heading
            && b.kind == BlockKind::Heading
            && a.level == b.level
            && (a.font_size - b.font_size).abs() < 0.5
            && b.bbox.y0 >= a.bbox.y1 - 0.3 * size
            && b.bbox.y0 - a.bbox.y1 < 0.8 * size
            && ((a.bbox.x0 - b.bbox.x0).abs() < size
                || ((a.bbox.x0 + a.bbox.x1) / 2.0 - (b.bbox.x0 + b.bbox.x1) / 2.0).abs() < size)
            && !a.text.ends_with([':', '?', '!'])
            && !starts_numbered(&b.text);
        if joins {
            let b = blocks.remove(i + 1);
            let a = &mut blocks[i];
            a.text = format!("{} {}", a.text.trim_end(), b.text.trim_start());
            a.bbox = a.bbox.union(&b.bbox);
            a.lines.extend(b.lines);
        } else {
            i += 1;
        }
    }
}
