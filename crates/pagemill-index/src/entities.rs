//! Named entities by rules, without a network: dates, numbers with units, e-mail
//! addresses, URLs and capitalised multi-word names. They are stored per chunk and can
//! filter a search (`--entity email`, `--entity date=2020-04-02`).
//!
//! Rules, not a model: they are predictable and cost microseconds a chunk; what they miss
//! (single-word names, names in lower case) is left to the LLM extractor of `pagemill
//! extract`.

use std::sync::OnceLock;

use regex::Regex;

/// One entity found in a chunk.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Entity {
    /// `date`, `quantity`, `email`, `url` or `name` by the rules; an LLM's kinds
    /// (`person`, `organization`, `place`, …) with `--entities llm`.
    pub kind: &'static str,
    /// The text as found (dates and e-mails as written; names with single spaces).
    pub value: String,
}

struct Rules {
    email: Regex,
    url: Regex,
    date: Regex,
    quantity: Regex,
    name: Regex,
}

fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| {
        // The patterns are constants: a failure here is a bug caught by the unit tests.
        let re = |p: &str| Regex::new(p).expect("entity pattern compiles");
        const MONTHS: &str = "Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?";
        Rules {
            email: re(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"),
            url: re(r#"\b(?:https?://|www\.)[^\s<>()"']+[^\s<>()"'.,;:!?]"#),
            date: re(&format!(
                r"\b(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{4}}\.\s?\d{{1,2}}\.\s?\d{{1,2}}\.?|\d{{1,2}}[./]\d{{1,2}}[./]\d{{2,4}}|\d{{1,2}}\s+(?:{MONTHS})\.?\s+\d{{4}}|(?:{MONTHS})\.?\s+\d{{1,2}},?\s+\d{{4}}|(?:{MONTHS})\s+\d{{4}})\b"
            )),
            quantity: re(
                r"(?:[$€£¥]\s?\d[\d,.]*\d?|\b\d[\d,]*(?:\.\d+)?\s?(?:%|percent\b|(?:k|M|G|T)?(?:B|bytes?|Hz|W|V|A)\b|(?:m|c|k|µ|n)?m\b|(?:m|k)?g\b|kg\b|(?:m|µ|n)?s\b|ms\b|min\b|h\b|hours?\b|days?\b|years?\b|°C|°F|K\b|dpi\b|pt\b|px\b|in\b|USD\b|EUR\b|dollars?\b|euros?\b))",
            ),
            name: re(r"\b(?:[A-Z][a-z]+|[A-Z]\.)(?:\s+(?:of|de|van|von|der|la|the)?\s*(?:[A-Z][a-z]+|[A-Z]\.))+\b"),
        }
    })
}

/// Month names, which the name rule would take for a name when two stand together.
const MONTH_NAMES: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Sept",
    "Oct",
    "Nov",
    "Dec",
];

/// Words that start sentences and headings often enough to make false names.
const NOT_NAME_START: &[&str] = &[
    "The", "This", "That", "These", "Those", "A", "An", "In", "On", "At", "For", "If", "When",
    "See", "Note", "Figure", "Table", "Section", "Chapter", "Page", "Example", "It", "We",
];

/// Finds the entities of a batch of chunks as they are stored. The rules
/// ([`RuleEntities`]) are the default; `pagemill index --entities llm` adds a model's.
pub trait EntityFinder: Send + Sync {
    /// The entities of each chunk of `document`, in order.
    fn find(&self, document: &str, chunks: &[pagemill_chunk::Chunk]) -> Vec<Vec<Entity>>;
}

/// The rules of this module ([`extract`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct RuleEntities;

impl EntityFinder for RuleEntities {
    fn find(&self, _document: &str, chunks: &[pagemill_chunk::Chunk]) -> Vec<Vec<Entity>> {
        chunks.iter().map(|c| extract(&c.text)).collect()
    }
}

/// Entities in `text`, each (kind, value) once, in order of first appearance.
pub fn extract(text: &str) -> Vec<Entity> {
    let r = rules();
    let mut out: Vec<Entity> = Vec::new();
    let mut add = |kind: &'static str, value: &str| {
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        if value.is_empty() || out.iter().any(|e| e.kind == kind && e.value == value) {
            return;
        }
        out.push(Entity { kind, value });
    };
    let emails: Vec<_> = r.email.find_iter(text).collect();
    for m in &emails {
        add("email", m.as_str());
    }
    for m in r.url.find_iter(text) {
        if !emails
            .iter()
            .any(|e| e.start() < m.end() && m.start() < e.end())
        {
            add("url", m.as_str());
        }
    }
    let dates: Vec<_> = r.date.find_iter(text).collect();
    for m in &dates {
        add("date", m.as_str().trim_end_matches('.'));
    }
    for m in r.quantity.find_iter(text) {
        if !dates
            .iter()
            .any(|d| d.start() < m.end() && m.start() < d.end())
        {
            add("quantity", m.as_str());
        }
    }
    for m in r.name.find_iter(text) {
        let mut words: Vec<&str> = m.as_str().split_whitespace().collect();
        while words.first().is_some_and(|w| NOT_NAME_START.contains(w)) {
            words.remove(0);
        }
        if words.len() >= 2 && !words.iter().all(|w| MONTH_NAMES.contains(w)) {
            add("name", &words.join(" "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str, kind: &str) -> Vec<String> {
        extract(text)
            .into_iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.value)
            .collect()
    }

    #[test]
    fn emails_and_urls() {
        let t = "Write to jane.doe@example.org or see https://www.r-project.org/about.html.";
        assert_eq!(kinds(t, "email"), ["jane.doe@example.org"]);
        assert_eq!(kinds(t, "url"), ["https://www.r-project.org/about.html"]);
    }

    #[test]
    fn dates_in_several_forms() {
        let t = "Released 2020-04-02, revised 3 March 2021 and on July 4, 1999; also 12/31/2022.";
        assert_eq!(
            kinds(t, "date"),
            ["2020-04-02", "3 March 2021", "July 4, 1999", "12/31/2022"]
        );
    }

    #[test]
    fn numbers_with_units_but_not_bare_numbers() {
        let t = "It takes 25 GB of RAM, 3.5 s a page, costs $1,200 and is 40% faster than 12.";
        assert_eq!(kinds(t, "quantity"), ["25 GB", "3.5 s", "$1,200", "40%"]);
    }

    #[test]
    fn capitalised_names_without_sentence_starts() {
        let t = "The Federal Register is published by the National Archives. The end.";
        assert_eq!(kinds(t, "name"), ["Federal Register", "National Archives"]);
    }
}
