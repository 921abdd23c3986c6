//! Named entities by an LLM, for the index (`pagemill index --entities llm`): a ready-made
//! prompt and schema ([`ENTITY_PROMPT`], [`ENTITY_SCHEMA`]) asked about each chunk, with the
//! bounds of an extraction — requests in flight, timeout, retries with backoff, schema
//! corrections — and a chunk whose request fails recorded, never fatal. Names the
//! passage does not hold are dropped.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde_json::Value;

use crate::ask::{ask_section, AskConfig, SectionTask};
use crate::events::SectionRef;
use crate::llm::Client;
use crate::prompt::Template;
use crate::record::State;
use crate::retry::Backoff;
use crate::schema::Schema;

/// The prompt asked about each chunk.
pub const ENTITY_PROMPT: &str = include_str!("entities/prompt.md");

/// The answer's schema: `{"entities": [{"kind", "name"}]}`, kinds from [`ENTITY_KINDS`].
pub const ENTITY_SCHEMA: &str = include_str!("entities/schema.json");

/// The kinds the schema allows, as the index stores them.
pub const ENTITY_KINDS: [&str; 7] = [
    "person",
    "organization",
    "place",
    "product",
    "event",
    "work",
    "other",
];

/// A passage's entities, `(kind, name)`, or why its request failed.
pub type Found = Result<Vec<(&'static str, String)>, String>;

/// One chunk to ask about.
#[derive(Debug, Clone, Copy)]
pub struct Passage<'a> {
    /// The document's name.
    pub document: &'a str,
    /// Its heading path, `Chapter > Section`.
    pub path: &'a str,
    /// Its pages, `3` or `3-4`.
    pub pages: &'a str,
    /// Its text.
    pub text: &'a str,
}

/// Asks an endpoint for the entities of passages.
pub struct LlmEntities {
    client: Client,
    ask: AskConfig,
    concurrency: usize,
    failed: AtomicU64,
    asked: AtomicU64,
}

impl LlmEntities {
    /// Entities through `client`, `concurrency` requests at once, each retried `retries`
    /// times and corrected `corrections` times.
    pub fn new(client: Client, concurrency: usize, retries: u32, corrections: u32) -> Self {
        let (template, schema) = builtin();
        LlmEntities {
            client,
            ask: AskConfig {
                template,
                schema: Some(schema),
                backoff: Backoff::with_retries(retries),
                corrections,
                // Chunks are a few hundred tokens: one part each.
                max_prompt_tokens: 4096,
            },
            concurrency: concurrency.max(1),
            failed: AtomicU64::new(0),
            asked: AtomicU64::new(0),
        }
    }

    /// Passages asked about so far, and those whose answer failed.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.asked.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }

    /// The entities of each passage, `(kind, name)`, in order; `Err` with the reason for
    /// a passage whose request failed after its retries.
    pub fn find(&self, passages: &[Passage<'_>]) -> Vec<Found> {
        let next = AtomicUsize::new(0);
        // Each thread takes the next passage until none is left and keeps its answers
        // with their places; they are put in order at the end.
        let answered: Vec<(usize, Found)> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..self.concurrency.min(passages.len()))
                .map(|_| {
                    scope.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(p) = passages.get(i) else { break mine };
                            mine.push((i, self.ask_one(i, p)));
                        }
                    })
                })
                .collect();
            threads
                .into_iter()
                .flat_map(|t| t.join().unwrap_or_default())
                .collect()
        });
        let mut out: Vec<Found> = (0..passages.len())
            .map(|_| Err("not asked".into()))
            .collect();
        for (i, found) in answered {
            out[i] = found;
        }
        out
    }

    fn ask_one(&self, i: usize, p: &Passage<'_>) -> Found {
        self.asked.fetch_add(1, Ordering::Relaxed);
        let task = SectionTask {
            at: SectionRef {
                document: p.document.to_string(),
                section: format!("chunk {}", i + 1),
            },
            title: p.path.rsplit(" > ").next().unwrap_or("").to_string(),
            path: p.path.split(" > ").map(str::to_string).collect(),
            pages: p.pages.to_string(),
            markdown: p.text.to_string(),
            markdown_file: String::new(),
            fingerprint: String::new(),
        };
        let record = ask_section(&self.client, &self.ask, &task, &|_| {});
        match record.state {
            State::Answered => Ok(in_text(entities_of(&record.answer), p.text)),
            State::Failed => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                Err(record.error.unwrap_or_else(|| "no answer".into()))
            }
        }
    }
}

/// The entities whose names the passage holds (case and spacing aside): a name the model
/// made up, or took from the prompt's instructions, is dropped — nothing invented.
fn in_text(found: Vec<(&'static str, String)>, text: &str) -> Vec<(&'static str, String)> {
    let haystack = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    found
        .into_iter()
        .filter(|(_, name)| haystack.contains(&name.to_lowercase()))
        .collect()
}

/// The built-in prompt and schema (constants: a failure is a bug the tests catch).
fn builtin() -> (Template, Schema) {
    let template = Template::new(ENTITY_PROMPT).expect("the entity prompt is a valid template");
    let raw = serde_json::from_str(ENTITY_SCHEMA).expect("the entity schema is JSON");
    let schema = Schema::new(raw).expect("the entity schema compiles");
    (template, schema)
}

/// `(kind, name)` pairs of a schema-valid answer, names with single spaces, each once.
fn entities_of(answer: &Value) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    for e in answer["entities"].as_array().into_iter().flatten() {
        let Some(kind) = e["kind"]
            .as_str()
            .and_then(|k| ENTITY_KINDS.iter().find(|&&known| known == k))
        else {
            continue;
        };
        let name = e["name"]
            .as_str()
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if !name.is_empty() && !out.iter().any(|(k, n)| k == kind && *n == name) {
            out.push((kind, name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_prompt_and_schema_agree_on_the_kinds() {
        let (_, schema) = builtin();
        let listed: Vec<&str> = schema.raw()["properties"]["entities"]["items"]["properties"]
            ["kind"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert_eq!(listed, ENTITY_KINDS);
        for kind in ENTITY_KINDS {
            assert!(ENTITY_PROMPT.contains(kind), "the prompt names {kind}");
        }
        assert!(schema
            .check(r#"{"entities": [{"kind": "person", "name": "Ada Lovelace"}]}"#)
            .is_ok());
        assert!(schema
            .check(r#"{"entities": [{"kind": "colour", "name": "red"}]}"#)
            .is_err());
    }

    #[test]
    fn names_not_in_the_passage_are_dropped() {
        let found = vec![
            ("person", "Ada Lovelace".to_string()),
            ("person", "Zebulon Quixote".to_string()),
        ];
        assert_eq!(
            in_text(found, "Notes by ADA\n  lovelace, 1843."),
            vec![("person", "Ada Lovelace".to_string())]
        );
    }

    #[test]
    fn answers_become_pairs_once_each() {
        let answer = serde_json::json!({"entities": [
            {"kind": "person", "name": "Ada  Lovelace"},
            {"kind": "person", "name": "Ada Lovelace"},
            {"kind": "place", "name": "London"},
            {"kind": "nonsense", "name": "x"},
            {"kind": "work", "name": " "},
        ]});
        assert_eq!(
            entities_of(&answer),
            vec![
                ("person", "Ada Lovelace".to_string()),
                ("place", "London".to_string())
            ]
        );
    }
}
