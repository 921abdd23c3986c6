//! `pagemill extract`: each section's Markdown to an OpenAI-compatible endpoint, with a
//! prompt and a schema; answers in OUT/IN/IN.sections.jsonl as sections finish.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use pagemill_extract::{
    AskConfig, Backoff, Client, DocPlan, Endpoint, ExtractOptions, Extractor, Schema, SectionEvent,
    Template,
};
use pagemill_sections::SectionRule;

use crate::exit;
use crate::job::{PipelineArgs, ProgressMode};

/// The environment variable holding the endpoint's API key.
pub const KEY_ENV: &str = "PAGEMILL_LLM_API_KEY";

/// Options of `pagemill extract`.
#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// PDF files or directories (searched recursively).
    #[arg(required = true, value_name = "IN")]
    inputs: Vec<PathBuf>,

    /// Output directory: OUT/<name>/<name>.sections.jsonl (one line per section) and
    /// OUT/<name>/<name>.sections/<id>.md (what each section sent).
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,

    /// How to cut (see `pagemill sections --help`).
    #[arg(long, value_name = "RULE", default_value = "outline")]
    sections: SectionRule,

    /// The prompt: a text file with {{markdown}}, {{title}}, {{path}}, {{pages}},
    /// {{document}}, {{section}} and {{part}} filled per section.
    #[arg(long, value_name = "PROMPT.md")]
    prompt: PathBuf,

    /// A JSON Schema the answer must match; sent as `response_format` and checked. An
    /// answer that does not match is sent back with the error (--corrections), then
    /// recorded as failed.
    #[arg(long, value_name = "SCHEMA.json")]
    schema: Option<PathBuf>,

    /// Base URL of an OpenAI-compatible API.
    #[arg(
        long,
        value_name = "URL",
        env = "PAGEMILL_LLM_URL",
        default_value = "http://127.0.0.1:8080/v1"
    )]
    llm_url: String,

    /// Model name sent with each request.
    #[arg(
        long,
        value_name = "NAME",
        env = "PAGEMILL_LLM_MODEL",
        default_value = "default"
    )]
    model: String,

    /// File whose first line is the API key (else PAGEMILL_LLM_API_KEY; never a flag, so
    /// it stays out of shell history and the process list).
    #[arg(long, value_name = "FILE")]
    llm_key_file: Option<PathBuf>,

    /// Requests in flight at once.
    #[arg(long, value_name = "N", default_value_t = 2)]
    llm_concurrency: usize,

    /// Seconds one request may take; a slower one is abandoned and retried.
    #[arg(long, value_name = "SECONDS", default_value_t = 300.0)]
    section_timeout: f64,

    /// Retries of a request after a timeout, a dropped connection, HTTP 429 (after its
    /// Retry-After) or 5xx, with exponential backoff and jitter.
    #[arg(long, value_name = "N", default_value_t = 4)]
    retries: u32,

    /// Follow-up requests after an answer that does not match the schema.
    #[arg(long, value_name = "N", default_value_t = 2)]
    corrections: u32,

    /// Largest prompt in tokens (cl100k_base); a longer section is sent in parts cut at
    /// block boundaries, and their answers merged (docs/extract.md).
    #[arg(long, value_name = "N", default_value_t = 6000)]
    max_section_tokens: usize,

    /// Keep the answers of an earlier run whose prompt, schema, model and section text
    /// are unchanged; ask only for the rest.
    #[arg(long)]
    resume: bool,

    /// How pages are converted. With `--progress json`, section events
    /// (section_sent, section_retried, section_answered, section_failed,
    /// section_skipped) are printed as NDJSON beside the engine's.
    #[command(flatten)]
    pipeline: PipelineArgs,
}

/// The API key: from `--llm-key-file`, else the environment; never from a flag.
fn api_key(file: Option<&PathBuf>) -> anyhow::Result<Option<String>> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--llm-key-file: cannot read {}", path.display()))?;
        let key = text.lines().next().unwrap_or("").trim().to_string();
        if key.is_empty() {
            bail!(
                "--llm-key-file: {} is empty; put the key on its first line",
                path.display()
            );
        }
        return Ok(Some(key));
    }
    Ok(std::env::var(KEY_ENV).ok().filter(|k| !k.trim().is_empty()))
}

/// The pages `sections` cover, as `--pages` ranges (`1-10,31-40`).
fn covering(sections: &[pagemill_sections::Section]) -> String {
    let mut spans: Vec<(u32, u32)> = sections.iter().map(|s| (s.first, s.last)).collect();
    spans.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::new();
    for (a, b) in spans {
        match merged.last_mut() {
            Some(last) if a <= last.1 + 1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
        .iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs `pagemill extract`.
pub fn run(args: ExtractArgs) -> anyhow::Result<u8> {
    let prompt = std::fs::read_to_string(&args.prompt)
        .with_context(|| format!("--prompt: cannot read {}", args.prompt.display()))?;
    let template = Template::new(&prompt)
        .map_err(|e| anyhow::anyhow!("--prompt {}: {e}", args.prompt.display()))?;
    let schema = match &args.schema {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--schema: cannot read {}", path.display()))?;
            let raw = serde_json::from_str(&text)
                .with_context(|| format!("--schema: {} is not JSON", path.display()))?;
            Some(Schema::new(raw).map_err(|e| {
                anyhow::anyhow!("--schema {}: not a usable JSON Schema: {e}", path.display())
            })?)
        }
        None => None,
    };
    if !(args.section_timeout.is_finite() && args.section_timeout > 0.0) {
        bail!("--section-timeout must be a positive number of seconds");
    }
    if args.max_section_tokens < 256 {
        bail!("--max-section-tokens must be at least 256");
    }
    let endpoint = Endpoint {
        url: args.llm_url.clone(),
        model: args.model.clone(),
        api_key: api_key(args.llm_key_file.as_ref())?,
    };
    let client = Client::new(endpoint, Duration::from_secs_f64(args.section_timeout))
        .map_err(|e| anyhow::anyhow!("cannot set up the LLM client: {e}"))?;

    let inputs = crate::sections::pdf_inputs(&args.inputs, &args.output)?;
    let found = crate::sections::find_sections(&inputs, &args.sections)?;
    let plans: Vec<DocPlan> = inputs
        .iter()
        .zip(found)
        .map(|(input, file)| DocPlan {
            path: input.path.clone(),
            document: input
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| file.document.clone()),
            out_dir: input.out_dir.clone(),
            stem: input.stem.clone(),
            sections: file.sections,
        })
        .collect();
    let total: usize = plans.iter().map(|p| p.sections.len()).sum();
    // One document whose sections leave pages out (ranges, a file): only theirs convert.
    let pages = match (&plans[..], &args.sections) {
        ([plan], SectionRule::Pages(_) | SectionRule::File(_)) => Some(covering(&plan.sections)),
        _ => None,
    };
    let ask = AskConfig {
        template,
        schema,
        backoff: Backoff {
            attempts: args.retries + 1,
            ..Backoff::default()
        },
        corrections: args.corrections,
        max_prompt_tokens: args.max_section_tokens,
    };
    let json = args.pipeline.progress == ProgressMode::Json;
    let show = !args.pipeline.quiet;
    let on_event = Box::new(move |e: SectionEvent| {
        if json {
            if let Ok(line) = serde_json::to_string(&e) {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
            }
        } else if show {
            if let SectionEvent::Failed { at, error, .. } = &e {
                eprintln!("pagemill: {} {}: failed: {error}", at.document, at.section);
            }
        }
    });
    let extractor = Extractor::new(
        plans,
        client,
        ask,
        ExtractOptions {
            concurrency: args.llm_concurrency,
            resume: args.resume,
        },
        on_event,
    )
    .context("cannot prepare the outputs")?;
    let code = args.pipeline.run(
        inputs.iter().map(|i| i.path.clone()).collect(),
        args.output.clone(),
        pages,
        vec![extractor.sink_factory()],
    );
    // The sections in flight finish (or fail) before the process ends, whatever the job.
    let summary = extractor
        .finish()
        .context("cannot write the section records")?;
    let code = code?;
    if !args.pipeline.quiet && !json {
        eprintln!(
            "pagemill: {total} sections: {} answered, {} kept from an earlier run, {} failed",
            summary.answered, summary.skipped, summary.failed
        );
    }
    Ok(if code == exit::INTERRUPTED || code == exit::FAILURE {
        code
    } else if summary.failed > 0 {
        if summary.answered + summary.skipped == 0 {
            exit::FAILURE
        } else {
            exit::PARTIAL
        }
    } else {
        code
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(first: u32, last: u32) -> pagemill_sections::Section {
        pagemill_sections::Section {
            id: String::new(),
            title: String::new(),
            first,
            last,
            path: Vec::new(),
            level: 0,
        }
    }

    #[test]
    fn the_pages_to_convert_are_the_sections_merged() {
        let s = [
            section(31, 40),
            section(1, 5),
            section(6, 10),
            section(8, 9),
            section(20, 20),
        ];
        assert_eq!(covering(&s), "1-10,20,31-40");
    }
}
