//! The sections file: what `pagemill sections --json` prints, and what `file:PATH` reads.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Section, SectionError};

/// A document's sections as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionFile {
    /// The document, as given.
    pub document: String,
    /// Its page count.
    pub pages: u32,
    /// The rule that found them (`outline:1`).
    pub rule: String,
    /// In page order.
    pub sections: Vec<Section>,
    /// Marks skipped and why, one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One entry of a hand-written file: a title and pages, everything else optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: Option<String>,
    title: Option<String>,
    /// `3-9`, `3` (1-based, inclusive).
    pages: Option<String>,
    first: Option<u32>,
    last: Option<u32>,
    #[serde(default)]
    path: Vec<String>,
    #[serde(default)]
    level: u32,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AnyFile {
    Full {
        sections: Vec<Entry>,
        #[serde(flatten)]
        _rest: serde_json::Map<String, serde_json::Value>,
    },
    List(Vec<Entry>),
}

/// Reads sections from `path` for a document of `page_count` pages: the output of
/// `pagemill sections --json`, or a list of `{"title": …, "pages": "3-9"}` (or
/// `"first"`/`"last"`). Ids given are kept (they name the sections in outputs and for
/// `--resume`); missing ones are numbered `s1`, `s2`, ….
pub fn read_file(path: &Path, page_count: u32) -> Result<Vec<Section>, SectionError> {
    let text = std::fs::read_to_string(path).map_err(|e| SectionError::File {
        path: path.display().to_string(),
        why: e.to_string(),
    })?;
    parse_list(&text, &path.display().to_string(), page_count)
}

/// Reads sections from `text`, in either form [`read_file`] takes; `origin` names it in
/// errors (a file's path, or "the listed sections").
pub fn parse_list(text: &str, origin: &str, page_count: u32) -> Result<Vec<Section>, SectionError> {
    let bad = |why: String| SectionError::File {
        path: origin.to_string(),
        why,
    };
    let entries = match serde_json::from_str::<AnyFile>(text) {
        Ok(AnyFile::Full { sections, .. }) => sections,
        Ok(AnyFile::List(list)) => list,
        Err(e) => {
            return Err(bad(format!(
            "not a list of sections ({e}); write [{{\"title\": \"Intro\", \"pages\": \"1-4\"}}, …]"
        )))
        }
    };
    if entries.is_empty() {
        return Err(bad("it lists no sections".into()));
    }
    let mut sections = Vec::with_capacity(entries.len());
    for (i, e) in entries.into_iter().enumerate() {
        let n = i + 1;
        let (first, last) = match (&e.pages, e.first, e.last) {
            (Some(p), _, _) => parse_pages(p)
                .ok_or_else(|| bad(format!("section {n}: pages {p:?} is not like \"3-9\"")))?,
            (None, Some(f), l) => (f, l.unwrap_or(f)),
            (None, None, _) => {
                return Err(bad(format!(
                    "section {n} gives no pages (\"pages\": \"3-9\")"
                )))
            }
        };
        if first == 0 || last < first {
            return Err(bad(format!(
                "section {n}: pages {first}-{last} run backwards or from 0"
            )));
        }
        if last > page_count {
            return Err(SectionError::PastEnd {
                range: format!("{first}-{last}"),
                pages: page_count,
            });
        }
        let title = e.title.unwrap_or_else(|| format!("pages {first}–{last}"));
        let path = if e.path.is_empty() {
            vec![title.clone()]
        } else {
            e.path
        };
        sections.push(Section {
            id: e.id.unwrap_or_default(),
            title,
            first,
            last,
            path,
            level: e.level,
        });
    }
    if sections.iter().any(|s| s.id.is_empty()) {
        if sections.iter().any(|s| !s.id.is_empty()) {
            return Err(bad("give every section an id, or none".into()));
        }
        crate::build::number(&mut sections);
    }
    let mut seen = HashSet::new();
    for s in &sections {
        if !seen.insert(s.id.as_str()) {
            return Err(bad(format!("the id {:?} is used twice", s.id)));
        }
        if !valid_id(&s.id) {
            return Err(bad(format!(
                "the id {:?} must be letters, digits, '-', '_' or '.' (it names output files)",
                s.id
            )));
        }
    }
    Ok(sections)
}

/// Ids name files: short, no separators.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn parse_pages(p: &str) -> Option<(u32, u32)> {
    match p.trim().split_once(['-', '–']) {
        Some((a, b)) => Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
        None => {
            let n = p.trim().parse().ok()?;
            Some((n, n))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile_path::Tmp {
        tempfile_path::Tmp::new(text)
    }

    /// A file in the system's temporary directory, removed on drop.
    mod tempfile_path {
        pub struct Tmp(pub std::path::PathBuf);
        impl Tmp {
            pub fn new(text: &str) -> Tmp {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "pagemill-sections-{}-{}.json",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::write(&p, text).unwrap();
                Tmp(p)
            }
        }
        impl Drop for Tmp {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn a_hand_written_list_reads_with_numbered_ids() {
        let f = write(r#"[{"title": "Intro", "pages": "1-4"}, {"first": 5, "last": 9}]"#);
        let s = read_file(&f.0, 9).unwrap();
        assert_eq!(s[0].id, "s1");
        assert_eq!(
            (s[0].first, s[0].last, s[0].title.as_str()),
            (1, 4, "Intro")
        );
        assert_eq!((s[1].id.as_str(), s[1].title.as_str()), ("s2", "pages 5–9"));
    }

    #[test]
    fn the_json_pagemill_prints_reads_back_the_same() {
        let sections = crate::from_ranges(&[(1, Some(2)), (3, None)], 5).unwrap();
        let file = SectionFile {
            document: "a.pdf".into(),
            pages: 5,
            rule: "pages:1-2,3-".into(),
            sections: sections.clone(),
            notes: vec![],
        };
        let f = write(&serde_json::to_string(&file).unwrap());
        assert_eq!(read_file(&f.0, 5).unwrap(), sections);
    }

    #[test]
    fn mistakes_are_named() {
        for (text, says) in [
            ("{}", "not a list"),
            ("[]", "no sections"),
            (r#"[{"title": "x"}]"#, "gives no pages"),
            (r#"[{"pages": "4-2"}]"#, "backwards"),
            (
                r#"[{"id": "a", "pages": "1"}, {"id": "a", "pages": "2"}]"#,
                "used twice",
            ),
            (r#"[{"id": "../x", "pages": "1"}]"#, "must be letters"),
            (r#"[{"pages": "1", "colour": "red"}]"#, "not a list"),
        ] {
            let f = write(text);
            let e = read_file(&f.0, 5).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
        let f = write(r#"[{"pages": "4-9"}]"#);
        assert!(matches!(
            read_file(&f.0, 5),
            Err(SectionError::PastEnd { .. })
        ));
    }
}
