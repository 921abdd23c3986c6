//! `--pages` ranges: `1-10,20,30-` (1-based, inclusive, open-ended allowed).
//!
//! A [`PageRanges`] is a few intervals, never a list of every page: a 9,660-page document
//! costs the same as a 10-page one.

use thiserror::Error;

/// A parse error for `--pages`.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RangeError {
    /// Empty specification.
    #[error("empty page range: give pages like `1-10,20,30-`")]
    Empty,
    /// A part that is not a number or range.
    #[error("invalid page range `{0}`: use 1-based numbers like `3`, `1-10` or `30-`")]
    Invalid(String),
    /// Page 0 or a range whose end precedes its start.
    #[error("invalid page range `{0}`: pages start at 1 and a range must not run backwards")]
    Backwards(String),
}

/// Sorted, merged, 0-based half-open intervals of selected pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRanges {
    spans: Vec<(u32, Option<u32>)>,
}

impl std::fmt::Display for PageRanges {
    /// The 1-based form [`PageRanges::parse`] reads (`1-10,20,30-`; `1-` for every page).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (start, end)) in self.spans.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match end {
                Some(end) if *end == start + 1 => write!(f, "{}", start + 1)?,
                Some(end) => write!(f, "{}-{}", start + 1, end)?,
                None => write!(f, "{}-", start + 1)?,
            }
        }
        Ok(())
    }
}

impl serde::Serialize for PageRanges {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PageRanges {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        PageRanges::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Default for PageRanges {
    fn default() -> Self {
        PageRanges::all()
    }
}

impl PageRanges {
    /// Every page.
    pub fn all() -> Self {
        PageRanges {
            spans: vec![(0, None)],
        }
    }

    /// Parses `1-10,20,30-` (1-based inclusive; `30-` means to the end; `-5` means 1–5).
    pub fn parse(spec: &str) -> Result<Self, RangeError> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(RangeError::Empty);
        }
        let mut spans: Vec<(u32, Option<u32>)> = Vec::new();
        for part in spec.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return Err(RangeError::Invalid(part.to_string()));
            }
            let num = |s: &str| -> Result<u32, RangeError> {
                s.trim()
                    .parse::<u32>()
                    .map_err(|_| RangeError::Invalid(part.to_string()))
            };
            let (start, end) = match part.split_once('-') {
                None => {
                    let n = num(part)?;
                    (n, Some(n))
                }
                Some((a, b)) => {
                    let a = if a.trim().is_empty() { 1 } else { num(a)? };
                    let b = if b.trim().is_empty() {
                        None
                    } else {
                        Some(num(b)?)
                    };
                    (a, b)
                }
            };
            if start == 0 || end.is_some_and(|e| e < start) {
                return Err(RangeError::Backwards(part.to_string()));
            }
            // 1-based inclusive → 0-based half-open.
            spans.push((start - 1, end));
        }
        spans.sort_by_key(|s| s.0);
        let mut merged: Vec<(u32, Option<u32>)> = Vec::with_capacity(spans.len());
        for (s, e) in spans {
            if let Some(last) = merged.last_mut() {
                let touches = match last.1 {
                    None => true,
                    Some(le) => s <= le,
                };
                if touches {
                    last.1 = match (last.1, e) {
                        (None, _) | (_, None) => None,
                        (Some(a), Some(b)) => Some(a.max(b)),
                    };
                    continue;
                }
            }
            merged.push((s, e));
        }
        Ok(PageRanges { spans: merged })
    }

    /// The selected 0-based page indices of a document with `page_count` pages, lazily.
    pub fn iter(&self, page_count: u32) -> impl Iterator<Item = u32> + '_ {
        self.spans.iter().flat_map(move |&(s, e)| {
            let end = e.unwrap_or(page_count).min(page_count);
            s..end.max(s.min(page_count))
        })
    }

    /// Like [`PageRanges::iter`], owning its ranges (for a scheduler that keeps one per document).
    pub fn into_pages(self, page_count: u32) -> impl Iterator<Item = u32> {
        self.spans.into_iter().flat_map(move |(s, e)| {
            let end = e.unwrap_or(page_count).min(page_count);
            s..end.max(s.min(page_count))
        })
    }

    /// The `n`-th selected 0-based page index (0-based `n`) of a `page_count`-page
    /// document, without walking the pages before it.
    pub fn nth(&self, n: u32, page_count: u32) -> Option<u32> {
        let mut left = n;
        for &(s, e) in &self.spans {
            let end = e.unwrap_or(page_count).min(page_count);
            let len = end.saturating_sub(s);
            if left < len {
                return Some(s + left);
            }
            left -= len;
        }
        None
    }

    /// How many pages of a `page_count`-page document are selected.
    pub fn count(&self, page_count: u32) -> u32 {
        self.spans
            .iter()
            .map(|&(s, e)| e.unwrap_or(page_count).min(page_count).saturating_sub(s))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_agrees_with_iter() {
        for spec in ["1-", "2-4,7,10-12", "5-"] {
            let r = PageRanges::parse(spec).unwrap();
            let all: Vec<u32> = r.iter(11).collect();
            for (n, &p) in all.iter().enumerate() {
                assert_eq!(r.nth(n as u32, 11), Some(p), "{spec} #{n}");
            }
            assert_eq!(r.nth(all.len() as u32, 11), None);
        }
    }

    #[test]
    fn displays_as_it_parses() {
        for spec in ["1-", "1-10,20,30-", "3", "2-4,7"] {
            let r = PageRanges::parse(spec).unwrap();
            assert_eq!(r.to_string(), spec);
            assert_eq!(PageRanges::parse(&r.to_string()).unwrap(), r);
        }
        let json = serde_json::to_string(&PageRanges::parse("1-3,9").unwrap()).unwrap();
        assert_eq!(json, "\"1-3,9\"");
        let back: PageRanges = serde_json::from_str(&json).unwrap();
        assert_eq!(back.count(100), 4);
    }

    #[test]
    fn parses_merges_and_clamps() {
        let r = PageRanges::parse("20, 1-3,2-5,30-").unwrap();
        assert_eq!(
            r.iter(32).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4, 19, 29, 30, 31]
        );
        assert_eq!(r.count(32), 9);
        // Pages past the end are ignored, not an error.
        assert_eq!(r.iter(4).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
        assert_eq!(r.count(4), 4);
        assert_eq!(PageRanges::parse("-2").unwrap().count(10), 2);
    }

    #[test]
    fn rejects_bad_specs() {
        assert_eq!(PageRanges::parse(""), Err(RangeError::Empty));
        assert!(matches!(
            PageRanges::parse("0"),
            Err(RangeError::Backwards(_))
        ));
        assert!(matches!(
            PageRanges::parse("5-2"),
            Err(RangeError::Backwards(_))
        ));
        assert!(matches!(
            PageRanges::parse("a-b"),
            Err(RangeError::Invalid(_))
        ));
        assert!(matches!(
            PageRanges::parse("1,,2"),
            Err(RangeError::Invalid(_))
        ));
    }

    #[test]
    fn all_is_every_page() {
        assert_eq!(PageRanges::all().count(9660), 9660);
        assert_eq!(PageRanges::all().iter(3).collect::<Vec<_>>(), vec![0, 1, 2]);
    }
}
