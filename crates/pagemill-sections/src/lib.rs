//! A document's sections: page ranges with a title and a heading path, found by one of
//! four rules ([`SectionRule`]) — the PDF's outline (bookmarks) to a depth, the detected
//! headings to a level, explicit page ranges, or a JSON file.
//!
//! This crate is the pure part: parsing the rule, turning outline entries or headings
//! (both are [`Mark`]s: a level, a title, a page) into sections, reading and writing the
//! sections file, and [`find`] to apply a rule to what was read of a document. Reading a
//! PDF's outline is `pagemill-pdf`'s job; detecting headings is
//! the converter's.
#![forbid(unsafe_code)]

mod build;
mod file;
mod find;
mod headings;
mod rule;

pub use build::{from_marks, from_ranges, Built, Mark, MarkKind};
pub use file::{parse_list, read_file, SectionFile};
pub use find::{find, DocumentMarks};
pub use headings::{heading_marks, relative_levels, HeadingCollector};
pub use rule::SectionRule;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One section of a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// Stable within the document and the rule: `s1`, `s2`, … in page order.
    pub id: String,
    /// The bookmark's or heading's text (for page ranges: `pages 3–9`).
    pub title: String,
    /// First page, 1-based.
    pub first: u32,
    /// Last page, 1-based, inclusive.
    pub last: u32,
    /// Titles of the enclosing sections, outermost first, then this one's.
    pub path: Vec<String>,
    /// Depth of the mark that starts it (1 = top level; 0 for front matter and ranges).
    pub level: u32,
}

impl Section {
    /// Pages it spans.
    pub fn page_count(&self) -> u32 {
        self.last + 1 - self.first
    }

    /// Its pages as `--pages` writes them (`3-9`, or `3`).
    pub fn pages(&self) -> String {
        if self.first == self.last {
            self.first.to_string()
        } else {
            format!("{}-{}", self.first, self.last)
        }
    }

    /// The heading path as one line: `Chapter > Section`.
    pub fn path_line(&self) -> String {
        self.path.join(" > ")
    }
}

/// The pages `sections` cover, as page ranges (`1-10,20,31-40`): what to convert when
/// they leave pages out.
pub fn covered_pages(sections: &[Section]) -> String {
    let mut spans: Vec<(u32, u32)> = sections.iter().map(|s| (s.first, s.last)).collect();
    spans.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::new();
    for (a, b) in spans {
        match merged.last_mut() {
            Some(last) if a <= last.1 + 1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Why sections could not be found.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SectionError {
    /// The rule itself does not parse.
    #[error("invalid section rule `{rule}`: {why} (use outline[:DEPTH], headings[:LEVEL], pages:1-10,11-30,31- or file:SECTIONS.json)")]
    Rule {
        /// The rule as given.
        rule: String,
        /// What is wrong with it.
        why: String,
    },
    /// The document has no outline to split by.
    #[error("the document has no outline (bookmarks); use the `headings` or `pages:…` rule")]
    NoOutline,
    /// The outline has entries but none of them points at a page.
    #[error("none of the document's {0} bookmarks points at a page; use the `headings` or `pages:…` rule")]
    NoDestinations(usize),
    /// No headings were detected.
    #[error("no headings found up to level {0}; use a deeper level or the `pages:…` rule")]
    NoHeadings(u32),
    /// A range lies past the end of the document.
    #[error("section `{range}` is past the end of the document ({pages} pages)")]
    PastEnd {
        /// The range as given.
        range: String,
        /// The document's page count.
        pages: u32,
    },
    /// The headings rule was asked for, but the document's pages were not converted.
    #[error("the document's headings are not known: its conversion did not finish")]
    NotConverted,
    /// A sections file cannot be read or does not describe sections.
    #[error("sections file {path}: {why}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(first: u32, last: u32) -> Section {
        Section {
            id: String::new(),
            title: String::new(),
            first,
            last,
            path: Vec::new(),
            level: 0,
        }
    }

    #[test]
    fn the_pages_covered_are_the_sections_merged() {
        let s = [
            section(31, 40),
            section(1, 5),
            section(6, 10),
            section(8, 9),
            section(20, 20),
        ];
        assert_eq!(covered_pages(&s), "1-10,20,31-40");
    }
}
