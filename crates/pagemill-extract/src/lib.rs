//! Per-section extraction with an LLM: each section's Markdown, assembled as its pages
//! convert, is sent to an OpenAI-compatible chat-completions endpoint with the user's
//! prompt (and JSON Schema), while later pages are still converting.
//!
//! - [`discover`]: the sections of PDF files, by a rule;
//! - [`entities`]: named entities of index chunks, by a ready-made prompt and schema;
//! - [`llm`]: one request, and its failures sorted into retryable and final;
//! - [`retry`]: backoff with full jitter, `Retry-After`;
//! - [`schema`]: answers checked against the schema (`jsonschema`);
//! - [`prompt`]: the template and its placeholders;
//! - [`parts`]: token counts, sections cut into parts at block boundaries, answers merged;
//! - [`ask`]: one section through the endpoint, retries and corrections included;
//! - [`record`]: `IN.sections.jsonl` lines and the `--resume` fingerprint;
//! - [`spool`]: converted pages kept on disk for the `headings` rule's second reader;
//! - [`extractor`]: the page sink and the LLM threads (bounded, isolated per section);
//! - [`events`]: section events for progress output.
#![forbid(unsafe_code)]

pub mod ask;
pub mod discover;
pub mod entities;
pub mod events;
pub mod extractor;
pub mod llm;
pub mod parts;
pub mod prompt;
pub mod record;
pub mod retry;
pub mod schema;
pub mod spool;

pub use ask::AskConfig;
pub use discover::{find_sections, DiscoverError, Source};
pub use entities::{LlmEntities, Passage, ENTITY_KINDS};
pub use events::{SectionEvent, SectionRef};
pub use extractor::{DocPlan, ExtractOptions, ExtractSummary, Extractor};
pub use llm::{CallError, Client, Endpoint, Gate};
pub use prompt::Template;
pub use record::{SectionRecord, State};
pub use retry::Backoff;
pub use schema::Schema;
pub use spool::PageSpool;
