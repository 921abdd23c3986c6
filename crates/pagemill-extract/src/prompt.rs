//! The prompt template: the user's text with `{{placeholders}}` filled per section.
//!
//! Placeholders: `{{markdown}}` (the section's Markdown), `{{title}}`, `{{path}}`
//! (`Chapter > Section`), `{{pages}}` (`3-9`), `{{document}}` (the file's name),
//! `{{section}}` (its id) and `{{part}}` (`2/3` for a section sent in parts, else `1/1`).
//! A template without `{{markdown}}` gets the Markdown after it, so a prompt that forgets
//! it still sends the text.

/// Names a template may use.
const NAMES: [&str; 7] = [
    "markdown", "title", "path", "pages", "document", "section", "part",
];

/// A checked template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
}

/// What fills a template for one request.
#[derive(Debug, Clone, Copy)]
pub struct Fill<'a> {
    /// The section's (or part's) Markdown.
    pub markdown: &'a str,
    /// The section's title.
    pub title: &'a str,
    /// Its heading path as one line.
    pub path: &'a str,
    /// Its pages, `3-9`.
    pub pages: &'a str,
    /// The document's file name.
    pub document: &'a str,
    /// The section's id.
    pub section: &'a str,
    /// `k/n` when sent in parts.
    pub part: &'a str,
}

impl Template {
    /// Checks `text`: every `{{name}}` must be one of the known names.
    pub fn new(text: &str) -> Result<Template, String> {
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                return Err("a `{{` is never closed with `}}`".into());
            };
            let name = after[..end].trim();
            if !NAMES.contains(&name) {
                return Err(format!(
                    "unknown placeholder {{{{{name}}}}}; known: {}",
                    NAMES.map(|n| format!("{{{{{n}}}}}")).join(", ")
                ));
            }
            rest = &after[end + 2..];
        }
        let mut text = text.to_string();
        if !text.contains("{{markdown}}") && !text.contains("{{ markdown }}") {
            text.push_str("\n\n{{markdown}}\n");
        }
        Ok(Template { text })
    }

    /// The text as checked (with `{{markdown}}` added when it was missing): part of a
    /// section's fingerprint.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The prompt for one request. Values are inserted once, never re-read for
    /// placeholders (a section quoting `{{title}}` stays as it is).
    pub fn render(&self, fill: &Fill<'_>) -> String {
        let mut out = String::with_capacity(self.text.len() + fill.markdown.len());
        let mut rest = self.text.as_str();
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find("}}").unwrap_or(after.len());
            out.push_str(match after[..end].trim() {
                "markdown" => fill.markdown,
                "title" => fill.title,
                "path" => fill.path,
                "pages" => fill.pages,
                "document" => fill.document,
                "section" => fill.section,
                "part" => fill.part,
                _ => "",
            });
            rest = after.get(end + 2..).unwrap_or("");
        }
        out.push_str(rest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill<'a>(markdown: &'a str) -> Fill<'a> {
        Fill {
            markdown,
            title: "Intro",
            path: "Book > Intro",
            pages: "3-9",
            document: "a.pdf",
            section: "s2",
            part: "1/1",
        }
    }

    #[test]
    fn placeholders_are_filled_once() {
        let t =
            Template::new("Doc {{document}}, {{ title }} (p. {{pages}}):\n{{markdown}}").unwrap();
        assert_eq!(
            t.render(&fill("text with {{title}} in it")),
            "Doc a.pdf, Intro (p. 3-9):\ntext with {{title}} in it"
        );
    }

    #[test]
    fn the_markdown_is_added_when_the_template_forgets_it() {
        let t = Template::new("Summarise {{title}}.").unwrap();
        assert_eq!(t.render(&fill("body")), "Summarise Intro.\n\nbody\n");
    }

    #[test]
    fn unknown_or_open_placeholders_are_refused() {
        assert!(Template::new("{{chapter}}")
            .unwrap_err()
            .contains("unknown placeholder {{chapter}}"));
        assert!(Template::new("{{title").is_err());
    }
}
