//! Footnotes as Markdown footnotes: a superscript mark in a page's text that a footnote at
//! its foot opens with becomes `[^label]`, the footnote `[^label]: text`.
//!
//! Marks restart on every page or chapter in many documents, so a label already used
//! earlier in the document gets the page number after it (`2-p14`).

use std::collections::HashSet;

use pagemill_core::layout::inline::{from_superscript, is_superscript, superscript};
use pagemill_core::{Block, BlockKind};

/// The footnotes of one page that its text refers to.
#[derive(Debug, Default)]
pub(crate) struct PageNotes<'a> {
    /// `<sup>mark</sup>` as it stands in the text, and the reference replacing it.
    refs: Vec<(String, String)>,
    /// Each referred footnote block and its definition line.
    defs: Vec<(&'a Block, String)>,
}

/// The footnote's mark as written (`³`, `<sup>a</sup>`, a leading `2`, `*`, `†`), what it
/// stands for (`3`, `a`, `2`), and the text after it.
fn split_mark(rendered: &str) -> Option<(String, String, &str)> {
    if let Some(rest) = rendered.strip_prefix("<sup>") {
        let (mark, after) = rest.split_once("</sup>")?;
        return (!mark.is_empty() && mark.chars().count() <= 3).then(|| {
            (
                format!("<sup>{mark}</sup>"),
                mark.to_string(),
                after.trim_start(),
            )
        });
    }
    let sup_end = rendered
        .char_indices()
        .find(|(_, c)| !is_superscript(*c))
        .map_or(rendered.len(), |(i, _)| i);
    if sup_end > 0 {
        let mark = &rendered[..sup_end];
        return (mark.chars().count() <= 3).then(|| {
            (
                mark.to_string(),
                from_superscript(mark),
                rendered[sup_end..].trim_start(),
            )
        });
    }
    let end = rendered
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || "*†‡§¶".contains(*c)))
        .map_or(rendered.len(), |(i, _)| i);
    let mark = &rendered[..end];
    // A plain mark is referred to as a superscript in the text.
    let written = superscript(mark).unwrap_or_else(|| format!("<sup>{mark}</sup>"));
    (!mark.is_empty() && mark.chars().count() <= 3)
        .then(|| (written, mark.to_string(), rendered[end..].trim_start()))
}

impl<'a> PageNotes<'a> {
    /// Finds the page's footnotes whose mark its other blocks carry as a superscript
    /// (`render` gives a block's inline Markdown); labels are unique in `used`.
    pub(crate) fn of_page(
        blocks: &[&'a Block],
        render: impl Fn(&Block) -> String,
        used: &mut HashSet<String>,
        page: u32,
    ) -> Self {
        // Most pages have no footnote: their text need not be rendered twice.
        if !blocks.iter().any(|b| b.kind == BlockKind::Footnote) {
            return PageNotes::default();
        }
        let body: Vec<String> = blocks
            .iter()
            .filter(|b| b.kind != BlockKind::Footnote)
            .map(|b| render(b))
            .collect();
        // Every superscript the text carries, as written: the marks a note may open with.
        let mut marks: Vec<String> = Vec::new();
        for t in &body {
            let mut run = String::new();
            for c in t.chars().chain(std::iter::once(' ')) {
                if is_superscript(c) {
                    run.push(c);
                } else if !run.is_empty() {
                    marks.push(std::mem::take(&mut run));
                }
            }
            let mut rest = t.as_str();
            while let Some(at) = rest.find("<sup>") {
                let Some(end) = rest[at..].find("</sup>") else {
                    break;
                };
                marks.push(rest[at..at + end + 6].to_string());
                rest = &rest[at + end + 6..];
            }
        }
        let mut notes = PageNotes::default();
        for b in blocks.iter().filter(|b| b.kind == BlockKind::Footnote) {
            let text = render(b);
            let mut defs = Vec::new();
            let mut next = text.as_str();
            // A block may hold several notes set one after another: each opens with a mark.
            while let Some((sup, mark, rest)) = split_mark(next) {
                if rest.is_empty()
                    || notes.refs.iter().any(|(s, _)| *s == sup)
                    || !marks.contains(&sup)
                {
                    break;
                }
                let split = marks
                    .iter()
                    .filter(|m| **m != sup)
                    .filter_map(|m| rest.find(&format!(" {m}")))
                    .min()
                    .unwrap_or(rest.len());
                let label = if used.insert(mark.clone()) {
                    mark
                } else {
                    let l = format!("{mark}-p{}", page + 1);
                    used.insert(l.clone());
                    l
                };
                notes.refs.push((sup, format!("[^{label}]")));
                defs.push(format!("[^{label}]: {}", rest[..split].trim()));
                next = rest[split..].trim_start();
            }
            if !defs.is_empty() {
                if !next.is_empty() {
                    // Whatever follows the last note it could tell belongs to that note.
                    if let Some(last) = defs.last_mut() {
                        last.push(' ');
                        last.push_str(next);
                    }
                }
                notes.defs.push((b, defs.join("\n\n")));
            }
        }
        notes
    }

    /// `text` with the page's footnote marks as references.
    pub(crate) fn link(&self, text: String) -> String {
        self.refs.iter().fold(text, |t, (sup, r)| {
            if t.contains(sup.as_str()) {
                t.replace(sup.as_str(), r)
            } else {
                t
            }
        })
    }

    /// The definition line of `b`, when it is a footnote the page refers to.
    pub(crate) fn definition(&self, b: &Block) -> Option<&str> {
        self.defs
            .iter()
            .find(|(d, _)| std::ptr::eq(*d, b))
            .map(|(_, s)| s.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_of_footnotes() {
        assert_eq!(
            split_mark("²Für dieses Skript"),
            Some(("²".into(), "2".into(), "Für dieses Skript"))
        );
        assert_eq!(
            split_mark("<sup>a</sup> Note"),
            Some(("<sup>a</sup>".into(), "a".into(), "Note"))
        );
        assert_eq!(
            split_mark("12 See the manual"),
            Some(("¹²".into(), "12".into(), "See the manual"))
        );
        assert_eq!(
            split_mark("* Author"),
            Some(("<sup>*</sup>".into(), "*".into(), "Author"))
        );
        assert_eq!(split_mark("Plain text"), None);
    }
}
