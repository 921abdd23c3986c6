//! A rule applied to one document: what the CLI and the service share once they have
//! read the document's page count and outline (and, for headings, converted it).

use crate::build::{from_marks, from_ranges, Built, Mark, MarkKind};
use crate::file::{parse_list, read_file};
use crate::headings::relative_levels;
use crate::{SectionError, SectionRule};

/// What was read of a document to find its sections.
#[derive(Debug, Clone, Default)]
pub struct DocumentMarks {
    /// Its page count.
    pub pages: u32,
    /// Its outline, depth first (read only for the outline rule; empty otherwise).
    pub outline: Vec<Mark>,
    /// Its detected headings in reading order, with their absolute levels (`None` unless
    /// its pages were converted for the headings rule).
    pub headings: Option<Vec<Mark>>,
}

/// The sections `rule` finds in a document.
pub fn find(rule: &SectionRule, doc: DocumentMarks) -> Result<Built, SectionError> {
    match rule {
        SectionRule::Outline { depth } => {
            from_marks(&doc.outline, *depth, doc.pages, MarkKind::Outline)
        }
        SectionRule::Headings { level } => {
            let mut marks = doc.headings.ok_or(SectionError::NotConverted)?;
            relative_levels(&mut marks);
            from_marks(&marks, *level, doc.pages, MarkKind::Headings)
        }
        SectionRule::Pages(ranges) => Ok(Built {
            sections: from_ranges(ranges, doc.pages)?,
            notes: Vec::new(),
        }),
        SectionRule::File(path) => Ok(Built {
            sections: read_file(path, doc.pages)?,
            notes: Vec::new(),
        }),
        SectionRule::Listed(text) => Ok(Built {
            sections: parse_list(text, "the listed sections", doc.pages)?,
            notes: Vec::new(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(level: u32, title: &str, page: u32) -> Mark {
        Mark {
            level,
            title: title.into(),
            page: Some(page),
        }
    }

    #[test]
    fn each_rule_reads_its_own_marks() {
        let doc = DocumentMarks {
            pages: 10,
            outline: vec![mark(1, "One", 0), mark(1, "Two", 5)],
            // Headings start at `##`: relative levels make them level 1.
            headings: Some(vec![mark(2, "Alpha", 0), mark(2, "Beta", 3)]),
        };
        let outline = find(&"outline".parse().unwrap(), doc.clone()).unwrap();
        assert_eq!(outline.sections.len(), 2);
        assert_eq!(outline.sections[1].first, 6);
        let headings = find(&"headings:1".parse().unwrap(), doc.clone()).unwrap();
        assert_eq!(headings.sections[1].title, "Beta");
        let pages = find(&"pages:1-2,3-".parse().unwrap(), doc.clone()).unwrap();
        assert_eq!(pages.sections[1].last, 10);
        let listed = r#"[{"title": "All", "pages": "1-10"}]"#.parse().unwrap();
        assert_eq!(find(&listed, doc).unwrap().sections[0].title, "All");
    }

    #[test]
    fn headings_need_the_conversion() {
        let doc = DocumentMarks {
            pages: 3,
            ..Default::default()
        };
        assert_eq!(
            find(&"headings".parse().unwrap(), doc.clone()).unwrap_err(),
            SectionError::NotConverted
        );
        assert_eq!(
            find(&"outline".parse().unwrap(), doc).unwrap_err(),
            SectionError::NoOutline
        );
    }
}
