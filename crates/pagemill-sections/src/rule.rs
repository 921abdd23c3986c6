//! Section rules: `outline[:DEPTH]`, `headings[:LEVEL]`, `pages:RANGES`, `file:PATH`, or
//! the sections themselves as JSON.

use std::path::PathBuf;
use std::str::FromStr;

use crate::SectionError;

/// How a document is cut into sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionRule {
    /// The PDF's bookmarks down to `depth` (1: top-level entries only).
    Outline {
        /// Deepest bookmark level that starts a section.
        depth: u32,
    },
    /// The detected headings down to `level` (1: `#` headings only).
    Headings {
        /// Deepest heading level that starts a section.
        level: u32,
    },
    /// Explicit page ranges, 1-based and inclusive; `None` as the end means "to the last
    /// page".
    Pages(Vec<(u32, Option<u32>)>),
    /// Sections listed in a JSON file (see [`crate::SectionFile`]).
    File(PathBuf),
    /// Sections listed inline: the JSON a sections file holds, given as the rule itself
    /// (a rule starting with `[` or `{`), for callers that cannot point at a file, such
    /// as a service's clients.
    Listed(String),
}

/// Deepest level a rule may ask for: outlines and headings deeper than this are noise.
const MAX_DEPTH: u32 = 16;

impl SectionRule {
    /// Whether finding these sections needs the pages converted (headings do).
    pub fn needs_conversion(&self) -> bool {
        matches!(self, SectionRule::Headings { .. })
    }
}

impl std::fmt::Display for SectionRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SectionRule::Outline { depth } => write!(f, "outline:{depth}"),
            SectionRule::Headings { level } => write!(f, "headings:{level}"),
            SectionRule::Pages(ranges) => {
                f.write_str("pages:")?;
                for (i, (a, b)) in ranges.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    match b {
                        Some(b) if b == a => write!(f, "{a}")?,
                        Some(b) => write!(f, "{a}-{b}")?,
                        None => write!(f, "{a}-")?,
                    }
                }
                Ok(())
            }
            SectionRule::File(p) => write!(f, "file:{}", p.display()),
            SectionRule::Listed(_) => f.write_str("listed"),
        }
    }
}

impl FromStr for SectionRule {
    type Err = SectionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim_start().starts_with(['[', '{']) {
            return Ok(SectionRule::Listed(s.to_string()));
        }
        let bad = |why: &str| SectionError::Rule {
            rule: s.to_string(),
            why: why.to_string(),
        };
        let (kind, arg) = match s.split_once(':') {
            Some((k, a)) => (k.trim(), Some(a.trim())),
            None => (s.trim(), None),
        };
        let level = |arg: Option<&str>| -> Result<u32, SectionError> {
            match arg {
                None | Some("") => Ok(1),
                Some(a) => match a.parse::<u32>() {
                    Ok(n) if (1..=MAX_DEPTH).contains(&n) => Ok(n),
                    _ => Err(bad(&format!(
                        "the depth must be a number from 1 to {MAX_DEPTH}"
                    ))),
                },
            }
        };
        match kind {
            "outline" | "bookmarks" => Ok(SectionRule::Outline { depth: level(arg)? }),
            "headings" => Ok(SectionRule::Headings { level: level(arg)? }),
            "pages" => {
                let arg = arg
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| bad("give the ranges, e.g. pages:1-10,11-30,31-"))?;
                let mut ranges = Vec::new();
                for part in arg.split(',').map(str::trim) {
                    let num = |t: &str| -> Result<u32, SectionError> {
                        match t.trim().parse::<u32>() {
                            Ok(n) if n >= 1 => Ok(n),
                            _ => Err(bad(&format!("`{part}` is not a 1-based page or range"))),
                        }
                    };
                    let range = match part.split_once('-') {
                        None => {
                            let n = num(part)?;
                            (n, Some(n))
                        }
                        Some((a, "")) => (num(a)?, None),
                        Some((a, b)) => {
                            let (a, b) = (num(a)?, num(b)?);
                            if b < a {
                                return Err(bad(&format!("`{part}` runs backwards")));
                            }
                            (a, Some(b))
                        }
                    };
                    ranges.push(range);
                }
                Ok(SectionRule::Pages(ranges))
            }
            "file" => match arg {
                Some(p) if !p.is_empty() => Ok(SectionRule::File(PathBuf::from(p))),
                _ => Err(bad("give the file, e.g. file:sections.json")),
            },
            _ => Err(bad("unknown rule")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_parses_and_prints_back() {
        for (text, printed) in [
            ("outline", "outline:1"),
            ("outline:2", "outline:2"),
            ("headings", "headings:1"),
            ("headings:3", "headings:3"),
            ("pages:1-10,11-30,31-", "pages:1-10,11-30,31-"),
            ("pages:4", "pages:4"),
            ("file:s.json", "file:s.json"),
        ] {
            let rule: SectionRule = text.parse().unwrap();
            assert_eq!(rule.to_string(), printed);
        }
        let listed: SectionRule = r#"[{"title": "A", "pages": "1-2"}]"#.parse().unwrap();
        assert!(matches!(listed, SectionRule::Listed(_)));
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        for text in [
            "outline:0",
            "outline:x",
            "pages:",
            "pages:5-2",
            "pages:0-3",
            "toc",
            "file:",
        ] {
            let e = text.parse::<SectionRule>().unwrap_err();
            assert!(matches!(e, SectionError::Rule { .. }), "{text}: {e}");
            assert!(e.to_string().contains("outline[:DEPTH]"));
        }
    }

    #[test]
    fn only_headings_need_conversion() {
        assert!(SectionRule::Headings { level: 1 }.needs_conversion());
        assert!(!SectionRule::Outline { depth: 1 }.needs_conversion());
    }
}
