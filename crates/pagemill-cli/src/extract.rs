//! `pagemill extract`: each section's Markdown to an OpenAI-compatible endpoint, with a
//! prompt and a schema; answers in OUT/IN/IN.sections.jsonl as sections finish.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use pagemill_extract::{
    AskConfig, Backoff, DocPlan, ExtractOptions, Extractor, PageSpool, Schema, SectionEvent,
    Template,
};
use pagemill_sections::{HeadingCollector, SectionRule};

use crate::exit;
use crate::job::{PipelineArgs, ProgressMode, StatusLine};
use crate::llm::LlmArgs;

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

    /// Model name sent with each request.
    #[arg(
        long,
        value_name = "NAME",
        env = "PAGEMILL_LLM_MODEL",
        default_value = "default",
        alias = "llm-model"
    )]
    model: String,

    /// The endpoint and the bounds of its requests.
    #[command(flatten)]
    llm: LlmArgs,

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

/// Section counts for the progress bar, kept from the section events.
#[derive(Default)]
struct Tally {
    sent: AtomicU32,
    answered: AtomicU32,
    failed: AtomicU32,
    /// Failed before they were sent (their pages never came).
    unsent: AtomicU32,
    skipped: AtomicU32,
}

impl Tally {
    fn count(&self, e: &SectionEvent) {
        let counter = match e {
            SectionEvent::Sent { .. } => &self.sent,
            SectionEvent::Answered { .. } => &self.answered,
            SectionEvent::Failed { attempts: 0, .. } => {
                self.unsent.fetch_add(1, Ordering::Relaxed);
                &self.failed
            }
            SectionEvent::Failed { .. } => &self.failed,
            SectionEvent::Skipped { .. } => &self.skipped,
            SectionEvent::Retried { .. } => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Sections sent and not yet answered or failed.
    fn in_flight(&self) -> u32 {
        let ended = (self.answered.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed))
            .saturating_sub(self.unsent.load(Ordering::Relaxed));
        self.sent.load(Ordering::Relaxed).saturating_sub(ended)
    }

    /// `sections 5/17: 4 answered, 1 failed, 2 asking`.
    fn line(&self, total: usize) -> String {
        let answered = self.answered.load(Ordering::Relaxed) + self.skipped.load(Ordering::Relaxed);
        let failed = self.failed.load(Ordering::Relaxed);
        format!(
            "sections {}/{total}: {answered} answered, {failed} failed, {} asking",
            answered + failed,
            self.in_flight()
        )
    }
}

/// Runs `pagemill extract`.
pub fn run(mut args: ExtractArgs) -> anyhow::Result<u8> {
    // Before any thread starts (see the function's measurements).
    pagemill_engine::rss::limit_malloc_arenas(2);
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
    if args.max_section_tokens < 256 {
        bail!("--max-section-tokens must be at least 256");
    }
    let client = args.llm.client(&args.model)?;

    let inputs = crate::sections::pdf_inputs(&args.inputs, &args.output)?;
    let paths: Vec<PathBuf> = inputs.iter().map(|i| i.path.clone()).collect();
    // The headings rule needs every page converted before the sections are known: that
    // conversion spools its pages, and the extraction reads them from there (once).
    let converted = if args.sections.needs_conversion() {
        let scratch = tempfile::tempdir().context("cannot make a temporary directory")?;
        let collector = Arc::new(HeadingCollector::new(6));
        let spool = Arc::new(PageSpool::new(scratch.path()).context("cannot spool pages")?);
        let code = args.pipeline.run(
            paths.clone(),
            args.output.clone(),
            None,
            vec![collector.clone(), spool.clone()],
        )?;
        if code == exit::INTERRUPTED || code == exit::FAILURE {
            return Ok(code);
        }
        let collector = Arc::try_unwrap(collector)
            .map_err(|_| anyhow::anyhow!("the heading collector is still in use"))?;
        Some((code, collector, spool, scratch))
    } else {
        None
    };
    let found = match &converted {
        Some((_, headings, _, _)) => {
            crate::sections::sections_with(&inputs, &args.sections, Some(headings))?
        }
        None => crate::sections::find_sections(&inputs, &args.sections)?,
    };
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
        ([plan], SectionRule::Pages(_) | SectionRule::File(_)) => {
            Some(pagemill_sections::covered_pages(&plan.sections))
        }
        _ => None,
    };
    let ask = AskConfig {
        template,
        schema,
        backoff: Backoff::with_retries(args.llm.retries),
        corrections: args.llm.corrections,
        max_prompt_tokens: args.max_section_tokens,
    };
    let json = args.pipeline.progress == ProgressMode::Json;
    let show = !args.pipeline.quiet;
    let tally = Arc::new(Tally::default());
    let counted = Arc::clone(&tally);
    args.pipeline.status = Some(StatusLine({
        let tally = Arc::clone(&tally);
        Arc::new(move || tally.line(total))
    }));
    let on_event = Box::new(move |e: SectionEvent| {
        counted.count(&e);
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
            concurrency: args.llm.llm_concurrency,
            resume: args.resume,
        },
        on_event,
    )
    .context("cannot prepare the outputs")?;
    let code = match &converted {
        Some((code, _, spool, _)) => {
            let factory = extractor.sink_factory();
            let mut code = *code;
            for input in &inputs {
                match spool.replay(&input.path, &*factory) {
                    Ok(true) => {}
                    // Its conversion failed: the first pass reported it.
                    Ok(false) => code = code.max(exit::PARTIAL),
                    Err(e) => {
                        eprintln!("pagemill: {}: {e}", input.path.display());
                        code = code.max(exit::PARTIAL);
                    }
                }
            }
            Ok(code)
        }
        None => args.pipeline.run(
            paths,
            args.output.clone(),
            pages,
            vec![extractor.sink_factory()],
        ),
    };
    // The sections in flight finish (or fail) before the process ends, whatever the job.
    let waiting = tally.in_flight();
    if show && !json && waiting > 0 {
        eprintln!("pagemill: waiting for {waiting} sections at the endpoint…");
    }
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
    use pagemill_extract::SectionRef;

    #[test]
    fn the_bar_counts_sections_asked_answered_and_failed() {
        let at = SectionRef {
            document: "a.pdf".into(),
            section: "s1".into(),
        };
        let t = Tally::default();
        for _ in 0..3 {
            t.count(&SectionEvent::Sent {
                at: at.clone(),
                parts: 1,
            });
        }
        t.count(&SectionEvent::Answered {
            at: at.clone(),
            attempts: 1,
            seconds: 1.0,
        });
        t.count(&SectionEvent::Failed {
            at: at.clone(),
            attempts: 2,
            error: "x".into(),
        });
        // Never sent: its pages did not come.
        t.count(&SectionEvent::Failed {
            at,
            attempts: 0,
            error: "y".into(),
        });
        assert_eq!(t.in_flight(), 1);
        assert_eq!(t.line(5), "sections 3/5: 1 answered, 2 failed, 1 asking");
    }
}
