//! One section through the endpoint: cut into parts when too long, each part asked with
//! retries (transient failures) and corrections (answers that do not match the schema),
//! the parts' answers merged.

use std::time::Instant;

use serde_json::Value;

use crate::events::{SectionEvent, SectionRef};
use crate::llm::{CallError, Client, Message};
use crate::parts::{count_tokens, merge, split};
use crate::prompt::{Fill, Template};
use crate::record::{SectionRecord, State};
use crate::retry::Backoff;
use crate::schema::Schema;

/// What every section of a run is asked with.
pub struct AskConfig {
    /// The prompt.
    pub template: Template,
    /// The answer's schema, if any.
    pub schema: Option<Schema>,
    /// Retries of transient failures.
    pub backoff: Backoff,
    /// Follow-up requests after an answer that does not match the schema.
    pub corrections: u32,
    /// Largest prompt, in tokens (see [`count_tokens`]); longer sections go in parts.
    pub max_prompt_tokens: usize,
}

/// A section ready to ask.
pub struct SectionTask {
    /// Which section of which document (for events).
    pub at: SectionRef,
    /// Its title.
    pub title: String,
    /// Its heading path.
    pub path: Vec<String>,
    /// Its pages, `3-9`.
    pub pages: String,
    /// Its Markdown.
    pub markdown: String,
    /// The Markdown file, relative to the document's output directory.
    pub markdown_file: String,
    /// See [`crate::record::fingerprint`].
    pub fingerprint: String,
}

/// Tokens left for the section's text in a prompt of at most `max` tokens.
fn text_budget(template: &Template, fill: &Fill<'_>, max: usize) -> usize {
    let frame = count_tokens(&template.render(&Fill {
        markdown: "",
        ..*fill
    }));
    // A template that leaves almost no room still sends the text, in small parts.
    max.saturating_sub(frame).max(64)
}

/// Asks the endpoint about one section; never fails (a failure is the record's state).
pub fn ask_section(
    client: &Client,
    cfg: &AskConfig,
    task: &SectionTask,
    on_event: &dyn Fn(SectionEvent),
) -> SectionRecord {
    let started = Instant::now();
    let path_line = task.path.join(" > ");
    let base = Fill {
        markdown: "",
        title: &task.title,
        path: &path_line,
        pages: &task.pages,
        document: &task.at.document,
        section: &task.at.section,
        part: "1/1",
    };
    let parts = split(
        &task.markdown,
        text_budget(&cfg.template, &base, cfg.max_prompt_tokens),
    );
    let n = parts.len();
    on_event(SectionEvent::Sent {
        at: task.at.clone(),
        parts: n as u32,
    });
    let mut tally = Tally::default();
    let mut answers = Vec::with_capacity(n);
    let mut error = None;
    for (k, part) in parts.iter().enumerate() {
        let label = format!("{}/{n}", k + 1);
        let prompt = cfg.template.render(&Fill {
            markdown: part,
            part: &label,
            ..base
        });
        match ask_part(client, cfg, &task.at, prompt, &mut tally, on_event) {
            Ok(answer) => answers.push(answer),
            Err(e) => {
                error = Some(if n > 1 {
                    format!("part {label}: {e}")
                } else {
                    e
                });
                break;
            }
        }
    }
    let answer = match (&error, n) {
        (Some(_), _) => Value::Null,
        (None, 1) => answers.pop().unwrap_or(Value::Null),
        (None, _) => {
            let parts_answers = answers.clone();
            let merged = if answers.iter().all(Value::is_string) {
                let texts: Vec<&str> = answers.iter().filter_map(Value::as_str).collect();
                Value::String(texts.join("\n\n"))
            } else {
                merge(answers)
            };
            match &cfg.schema {
                Some(s) => match s.check(&merged.to_string()) {
                    Ok(v) => v,
                    // Merged by the rule, the parts' answers break the schema (strings
                    // over a maxLength, arrays over a maxItems): the model combines them.
                    Err(_) => {
                        let texts: Vec<String> =
                            parts_answers.iter().map(Value::to_string).collect();
                        let prompt = reduce_prompt(task, &texts);
                        match ask_part(client, cfg, &task.at, prompt, &mut tally, on_event) {
                            Ok(v) => v,
                            Err(e) => {
                                error = Some(format!("combining the {n} parts' answers: {e}"));
                                Value::Null
                            }
                        }
                    }
                },
                None => merged,
            }
        }
    };
    let latency_s = started.elapsed().as_secs_f64();
    let record = SectionRecord {
        id: task.at.section.clone(),
        title: task.title.clone(),
        path: task.path.clone(),
        pages: task.pages.clone(),
        state: if error.is_none() {
            State::Answered
        } else {
            State::Failed
        },
        answer,
        attempts: tally.attempts,
        parts: n as u32,
        tokens_in: tally.tokens_in,
        tokens_out: tally.tokens_out,
        latency_s,
        error: error.clone(),
        markdown: task.markdown_file.clone(),
        fingerprint: task.fingerprint.clone(),
    };
    on_event(match error {
        None => SectionEvent::Answered {
            at: task.at.clone(),
            attempts: tally.attempts,
            seconds: latency_s,
        },
        Some(error) => SectionEvent::Failed {
            at: task.at.clone(),
            attempts: tally.attempts,
            error,
        },
    });
    record
}

/// The request that combines a section's parts' answers into one.
fn reduce_prompt(task: &SectionTask, answers: &[String]) -> String {
    let n = answers.len();
    let mut p = format!(
        "Below are {n} JSON answers, one for each consecutive part of the section \"{}\" \
         (pages {}) of {}. Combine them into one answer about the whole section: one JSON \
         value that matches the schema, nothing else.\n",
        task.title, task.pages, task.at.document
    );
    for (k, a) in answers.iter().enumerate() {
        p.push_str(&format!("\nPart {}/{n}:\n{a}\n", k + 1));
    }
    p
}

#[derive(Default)]
struct Tally {
    attempts: u32,
    tokens_in: u64,
    tokens_out: u64,
}

/// One part: requests until an acceptable answer, or the reason there is none.
fn ask_part(
    client: &Client,
    cfg: &AskConfig,
    at: &SectionRef,
    prompt: String,
    tally: &mut Tally,
    on_event: &dyn Fn(SectionEvent),
) -> Result<Value, String> {
    let mut messages = vec![Message::user(prompt)];
    let mut failures = 0u32;
    let mut corrections = 0u32;
    loop {
        tally.attempts += 1;
        let result = client.chat(&messages, cfg.schema.as_ref().map(Schema::raw));
        match result {
            Ok(reply) => {
                tally.tokens_in += reply.tokens_in;
                tally.tokens_out += reply.tokens_out;
                let Some(schema) = &cfg.schema else {
                    return Ok(Value::String(reply.content));
                };
                match schema.check(&reply.content) {
                    Ok(v) => return Ok(v),
                    Err(why) if corrections < cfg.corrections => {
                        corrections += 1;
                        on_event(SectionEvent::Retried {
                            at: at.clone(),
                            attempt: tally.attempts,
                            reason: format!("the answer {why}"),
                            wait_s: 0.0,
                        });
                        messages.push(Message::assistant(reply.content));
                        messages.push(Message::user(format!(
                            "Your answer {why}. Answer again with only a JSON value that \
                             matches the schema, nothing else."
                        )));
                    }
                    Err(why) => {
                        return Err(format!(
                            "the answer {why} (after {} correction{})",
                            corrections,
                            if corrections == 1 { "" } else { "s" }
                        ))
                    }
                }
            }
            Err(e) => {
                failures += 1;
                if !e.is_transient() || failures >= cfg.backoff.attempts {
                    return Err(describe(&e, failures));
                }
                let wait = cfg.backoff.delay(failures, e.retry_after());
                on_event(SectionEvent::Retried {
                    at: at.clone(),
                    attempt: tally.attempts,
                    reason: e.to_string(),
                    wait_s: wait.as_secs_f64(),
                });
                std::thread::sleep(wait);
            }
        }
    }
}

fn describe(e: &CallError, failures: u32) -> String {
    if e.is_transient() {
        format!("{e} (gave up after {failures} tries)")
    } else {
        e.to_string()
    }
}
