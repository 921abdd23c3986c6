//! From marks (bookmarks or headings) or page ranges to sections.

use crate::{Section, SectionError};

/// Where a section may start: an outline entry or a detected heading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// Nesting depth, 1 for top-level entries (`#` headings).
    pub level: u32,
    /// Its text.
    pub title: String,
    /// The page it points at, 0-based; `None` when its destination is broken.
    pub page: Option<u32>,
}

/// What the marks are, for the messages when they give no sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    /// PDF bookmarks.
    Outline,
    /// Detected headings.
    Headings,
}

/// Sections and what was noticed on the way (skipped bookmarks, front matter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Built {
    /// In page order.
    pub sections: Vec<Section>,
    /// One line each, for a person: marks skipped and why.
    pub notes: Vec<String>,
}

/// Cuts a document of `page_count` pages at the marks of level ≤ `depth`, given in
/// document order (an outline walked depth first, or headings in reading order).
///
/// - A section runs from its mark's page to the page before the next section's; when the
///   next starts on the same page, that page is shared (page ranges cannot cut a page).
/// - A mark followed on its own page by a deeper one (a chapter title directly followed by
///   its first section) starts no section of its own: its title is in the next one's path,
///   so nothing is lost and no one-page duplicate is made.
/// - Pages before the first mark form a "Front matter" section, so every page belongs to
///   one (nothing lost).
/// - Marks whose page is missing or past the end are skipped, with a note; their titles
///   still head the paths of the marks inside them.
/// - Marks out of page order (an appendix bookmarked before the index) are sorted by
///   page, keeping document order among equals.
pub fn from_marks(
    marks: &[Mark],
    depth: u32,
    page_count: u32,
    kind: MarkKind,
) -> Result<Built, SectionError> {
    if marks.is_empty() || page_count == 0 {
        return Err(match kind {
            MarkKind::Outline => SectionError::NoOutline,
            MarkKind::Headings => SectionError::NoHeadings(depth),
        });
    }
    let mut notes = Vec::new();
    let mut skipped = Vec::new();
    // Titles of the open marks, by level (index 0 = level 1).
    let mut stack: Vec<String> = Vec::new();
    let mut starts: Vec<(u32, u32, Vec<String>)> = Vec::new();
    for m in marks {
        let level = m.level.max(1);
        stack.truncate(level as usize - 1);
        while stack.len() < level as usize - 1 {
            stack.push(String::new());
        }
        stack.push(m.title.clone());
        if level > depth {
            continue;
        }
        match m.page.filter(|&p| p < page_count) {
            Some(p) => {
                let path = stack.iter().filter(|t| !t.is_empty()).cloned().collect();
                starts.push((p, level, path));
            }
            None => skipped.push(m.title.clone()),
        }
    }
    if !skipped.is_empty() {
        let shown: Vec<String> = skipped.iter().take(5).map(|t| format!("{t:?}")).collect();
        let more = skipped.len().saturating_sub(5);
        let what = match (kind, skipped.len()) {
            (MarkKind::Outline, 1) => "bookmark points",
            (MarkKind::Outline, _) => "bookmarks point",
            (MarkKind::Headings, 1) => "heading points",
            (MarkKind::Headings, _) => "headings point",
        };
        notes.push(format!(
            "{} {what} at no page of the document and start no section: {}{}",
            skipped.len(),
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
    if starts.is_empty() {
        return Err(match kind {
            MarkKind::Outline => SectionError::NoDestinations(skipped.len()),
            MarkKind::Headings => SectionError::NoHeadings(depth),
        });
    }
    starts.sort_by_key(|s| s.0);
    // A mark directly followed on its page by a deeper one gives way to it.
    let mut kept: Vec<(u32, u32, Vec<String>)> = Vec::with_capacity(starts.len());
    for s in starts {
        if let Some(prev) = kept.last() {
            if prev.0 == s.0 && s.1 > prev.1 && s.2.starts_with(&prev.2) {
                kept.pop();
            }
        }
        kept.push(s);
    }
    let mut sections = Vec::with_capacity(kept.len() + 1);
    if kept[0].0 > 0 {
        sections.push(Section {
            id: String::new(),
            title: "Front matter".into(),
            first: 1,
            last: kept[0].0,
            path: vec!["Front matter".into()],
            level: 0,
        });
    }
    for (i, (page, level, path)) in kept.iter().enumerate() {
        let next = kept.get(i + 1).map_or(page_count, |n| n.0);
        let last = next.max(page + 1); // 1-based last page: the page before `next`, or own
        sections.push(Section {
            id: String::new(),
            title: path.last().cloned().unwrap_or_default(),
            first: page + 1,
            last,
            path: path.clone(),
            level: *level,
        });
    }
    number(&mut sections);
    Ok(Built { sections, notes })
}

/// Sections of explicit 1-based inclusive ranges (`None`: to the last page).
pub fn from_ranges(
    ranges: &[(u32, Option<u32>)],
    page_count: u32,
) -> Result<Vec<Section>, SectionError> {
    let mut sections = Vec::with_capacity(ranges.len());
    for &(first, last) in ranges {
        let shown = match last {
            Some(l) if l == first => first.to_string(),
            Some(l) => format!("{first}-{l}"),
            None => format!("{first}-"),
        };
        let last = last.unwrap_or(page_count);
        if first > page_count || last > page_count {
            return Err(SectionError::PastEnd {
                range: shown,
                pages: page_count,
            });
        }
        let title = if first == last {
            format!("page {first}")
        } else {
            format!("pages {first}–{last}")
        };
        sections.push(Section {
            id: String::new(),
            path: vec![title.clone()],
            title,
            first,
            last,
            level: 0,
        });
    }
    number(&mut sections);
    Ok(sections)
}

/// Gives sections their ids, `s1`, `s2`, … in order.
pub(crate) fn number(sections: &mut [Section]) {
    for (i, s) in sections.iter_mut().enumerate() {
        s.id = format!("s{}", i + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(level: u32, title: &str, page: Option<u32>) -> Mark {
        Mark {
            level,
            title: title.into(),
            page,
        }
    }

    fn spans(b: &Built) -> Vec<(String, u32, u32, String)> {
        b.sections
            .iter()
            .map(|s| (s.id.clone(), s.first, s.last, s.path_line()))
            .collect()
    }

    #[test]
    fn top_level_bookmarks_cut_the_document_and_front_matter_is_kept() {
        let marks = [
            mark(1, "Intro", Some(2)),
            mark(2, "Scope", Some(3)),
            mark(1, "Usage", Some(5)),
            mark(1, "Index", Some(9)),
        ];
        let b = from_marks(&marks, 1, 10, MarkKind::Outline).unwrap();
        assert_eq!(
            spans(&b),
            vec![
                ("s1".into(), 1, 2, "Front matter".into()),
                ("s2".into(), 3, 5, "Intro".into()),
                ("s3".into(), 6, 9, "Usage".into()),
                ("s4".into(), 10, 10, "Index".into()),
            ]
        );
    }

    #[test]
    fn deeper_marks_carry_their_path_and_a_chapter_gives_way_to_its_first_section() {
        let marks = [
            mark(1, "One", Some(0)),
            mark(2, "One.A", Some(0)),
            mark(2, "One.B", Some(2)),
            mark(1, "Two", Some(4)),
            mark(2, "Two.A", Some(5)),
        ];
        let b = from_marks(&marks, 2, 8, MarkKind::Outline).unwrap();
        assert_eq!(
            spans(&b),
            vec![
                ("s1".into(), 1, 2, "One > One.A".into()),
                ("s2".into(), 3, 4, "One > One.B".into()),
                ("s3".into(), 5, 5, "Two".into()),
                ("s4".into(), 6, 8, "Two > Two.A".into()),
            ]
        );
    }

    #[test]
    fn siblings_on_one_page_share_it() {
        let marks = [
            mark(1, "a", Some(0)),
            mark(1, "b", Some(0)),
            mark(1, "c", Some(1)),
        ];
        let b = from_marks(&marks, 1, 3, MarkKind::Outline).unwrap();
        assert_eq!(
            b.sections
                .iter()
                .map(|s| (s.first, s.last))
                .collect::<Vec<_>>(),
            vec![(1, 1), (1, 1), (2, 3)]
        );
    }

    #[test]
    fn broken_destinations_are_skipped_with_a_note_and_children_keep_the_parent_title() {
        let marks = [
            mark(1, "Lost", None),
            mark(2, "Found", Some(1)),
            mark(1, "Far", Some(99)),
        ];
        let b = from_marks(&marks, 2, 4, MarkKind::Outline).unwrap();
        assert_eq!(spans(&b)[1], ("s2".into(), 2, 4, "Lost > Found".into()));
        assert_eq!(b.notes.len(), 1);
        assert!(
            b.notes[0].starts_with("2 bookmarks point at no page"),
            "{}",
            b.notes[0]
        );
    }

    #[test]
    fn no_outline_and_only_broken_bookmarks_are_clear_errors() {
        assert_eq!(
            from_marks(&[], 1, 4, MarkKind::Outline),
            Err(SectionError::NoOutline)
        );
        assert_eq!(
            from_marks(&[mark(1, "x", None)], 1, 4, MarkKind::Outline),
            Err(SectionError::NoDestinations(1))
        );
        assert_eq!(
            from_marks(&[], 2, 4, MarkKind::Headings),
            Err(SectionError::NoHeadings(2))
        );
    }

    #[test]
    fn out_of_order_marks_are_sorted_by_page() {
        let marks = [mark(1, "B", Some(3)), mark(1, "A", Some(0))];
        let b = from_marks(&marks, 1, 5, MarkKind::Outline).unwrap();
        assert_eq!(spans(&b)[0], ("s1".into(), 1, 3, "A".into()));
        assert_eq!(spans(&b)[1], ("s2".into(), 4, 5, "B".into()));
    }

    #[test]
    fn ranges_become_sections_and_past_the_end_is_an_error() {
        let s = from_ranges(&[(1, Some(2)), (3, Some(3)), (4, None)], 6).unwrap();
        assert_eq!(
            s.iter()
                .map(|s| (s.title.as_str(), s.first, s.last))
                .collect::<Vec<_>>(),
            vec![("pages 1–2", 1, 2), ("page 3", 3, 3), ("pages 4–6", 4, 6)]
        );
        assert!(matches!(
            from_ranges(&[(5, Some(9))], 6),
            Err(SectionError::PastEnd { .. })
        ));
    }
}
