//! Extraction jobs (`POST /v1/jobs` with a `prompt`): `pagemill extract` on the shared
//! engine. Sections are found first (for the `headings` rule, by a conversion pass), then
//! the job converts the pages its sections cover and each finished section goes to the
//! server's LLM endpoint; section events join the job's event stream as they happen, and
//! `IN.sections.jsonl` with each section's Markdown are among its results.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pagemill_core::ranges::PageRanges;
use pagemill_engine::{JobSpec, JobSummary};
use pagemill_export::Formats;
use pagemill_extract::{
    AskConfig, Backoff, Client, DocPlan, Endpoint, ExtractOptions, ExtractSummary, Extractor,
    SectionEvent, Source,
};
use pagemill_sections::{HeadingCollector, SectionRule};
use serde_json::Value;

use crate::options::{ExtractJob, JobOptions};
use crate::runner::{final_state, Runner};
use crate::store::{JobRecord, JobState};

/// How often the headings pass looks for a cancellation.
const POLL: Duration = Duration::from_millis(200);

/// Runs an extraction job to its end (or until the server stops).
pub(crate) fn run(
    runner: &Runner,
    job: &JobRecord,
    spec: JobSpec,
    options: &JobOptions,
    cancel: &AtomicBool,
) {
    match prepare(runner, job, spec, options, cancel) {
        Ok(Some(prepared)) => extract(runner, job, prepared, cancel),
        Ok(None) => {}
        Err(message) => runner.refused(job, &message),
    }
}

/// A job ready to convert: its spec (with the extractor's sink), and the documents left
/// out because no sections were found in them.
struct Prepared {
    spec: JobSpec,
    extractor: Extractor,
    left_out: usize,
}

/// Finds the sections and sets up the extractor; `Ok(None)` when the job was cancelled
/// or the server is stopping meanwhile.
fn prepare(
    runner: &Runner,
    job: &JobRecord,
    mut spec: JobSpec,
    options: &JobOptions,
    cancel: &AtomicBool,
) -> Result<Option<Prepared>, String> {
    let x = options.extract.as_ref().ok_or("not an extraction job")?;
    let llm = runner
        .llm()
        .ok_or("this server has no LLM endpoint configured for extraction")?;
    let rule = x.rule().map_err(|e| e.to_string())?;
    let ask = AskConfig {
        template: x.template().map_err(|e| e.to_string())?,
        schema: x.schema().map_err(|e| e.to_string())?,
        backoff: Backoff {
            attempts: x.retries + 1,
            ..Backoff::default()
        },
        corrections: x.corrections,
        max_prompt_tokens: x.max_section_tokens,
    };
    let client = Client::new(endpoint(&llm.config.endpoint, x), timeout(x))
        .map_err(|e| format!("cannot set up the LLM client: {e}"))?
        .with_gate(Arc::clone(&llm.gate));

    let headings = if rule.needs_conversion() {
        match detect_headings(runner, &spec, cancel)? {
            Some(h) => Some(h),
            None => return Ok(None),
        }
    } else {
        None
    };
    let (inputs, _) = pagemill_engine::plan_inputs(&spec.inputs, &spec.output);
    let sources: Vec<Source> = inputs
        .iter()
        .map(|i| Source {
            path: i.path.clone(),
            shown: file_name(&i.path),
        })
        .collect();
    let found = pagemill_extract::find_sections(&sources, &rule, headings.as_ref())
        .map_err(|e| e.to_string())?;
    let mut plans = Vec::new();
    let mut errors = Vec::new();
    for (input, result) in inputs.iter().zip(found) {
        match result {
            Ok(file) => plans.push(DocPlan {
                path: input.path.clone(),
                document: file_name(&input.path),
                out_dir: input.out_dir.clone(),
                stem: input.stem.clone(),
                sections: file.sections,
            }),
            Err(e) => {
                let event = serde_json::json!({
                    "event": "sections_failed",
                    "job": job.id,
                    "file": file_name(&input.path),
                    "error": e.to_string(),
                });
                runner.record_json(job, vec![event.to_string()]);
                errors.push(e.to_string());
            }
        }
    }
    if plans.is_empty() {
        return Err(errors
            .into_iter()
            .next()
            .unwrap_or_else(|| "no document to extract from".into()));
    }
    // One document whose sections leave pages out: only theirs convert.
    if let ([plan], SectionRule::Pages(_) | SectionRule::Listed(_)) = (&plans[..], &rule) {
        if let Ok(pages) = PageRanges::parse(&pagemill_sections::covered_pages(&plan.sections)) {
            spec.pages = pages;
        }
    }
    spec.inputs = plans.iter().map(|p| p.path.clone()).collect();
    let on_event = {
        let (runner, job) = (runner.clone(), job.clone());
        Box::new(move |e: SectionEvent| {
            if let Ok(Value::Object(mut map)) = serde_json::to_value(&e) {
                map.insert("job".into(), Value::String(job.id.clone()));
                runner.record_json(&job, vec![Value::Object(map).to_string()]);
            }
        })
    };
    let extractor = Extractor::new(
        plans,
        client,
        ask,
        ExtractOptions {
            concurrency: llm.config.concurrency,
            resume: job.resume,
        },
        on_event,
    )
    .map_err(|e| format!("cannot prepare the outputs: {e}"))?;
    spec.sinks.push(extractor.sink_factory());
    Ok(Some(Prepared {
        spec,
        left_out: errors.len(),
        extractor,
    }))
}

/// The endpoint a job's requests go to: the server's, or (where the operator allows it,
/// checked when the job was accepted) the one the job names — without the server's key,
/// which is never sent where a client points.
fn endpoint(server: &Endpoint, x: &ExtractJob) -> Endpoint {
    match &x.llm_url {
        Some(url) if *url != server.url => Endpoint {
            url: url.clone(),
            model: x.model.clone().unwrap_or_else(|| server.model.clone()),
            api_key: None,
        },
        _ => Endpoint {
            model: x.model.clone().unwrap_or_else(|| server.model.clone()),
            ..server.clone()
        },
    }
}

fn timeout(x: &ExtractJob) -> Duration {
    Duration::from_secs_f64(x.section_timeout.clamp(1.0, 3600.0))
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The `headings` rule: converts the pages once (no files written) to read their
/// headings. `Ok(None)` when the job was cancelled or the server is stopping.
fn detect_headings(
    runner: &Runner,
    spec: &JobSpec,
    cancel: &AtomicBool,
) -> Result<Option<HeadingCollector>, String> {
    let collector = Arc::new(HeadingCollector::new(6));
    let pass = JobSpec {
        formats: Formats::none(),
        output: scratch(&spec.output),
        sinks: vec![collector.clone()],
        resume: false,
        ..spec.clone()
    };
    let handle = runner.submit(pass).map_err(|e| e.to_string())?;
    let mut cancelled = false;
    while !handle.is_finished() {
        // The pass's page events are not the job's: they are read and dropped.
        let _ = handle.next_event(POLL);
        if cancel.load(Ordering::Relaxed) && !cancelled {
            cancelled = true;
            handle.cancel();
        }
    }
    let summary = handle.wait();
    let _ = std::fs::remove_dir_all(scratch(&spec.output));
    if cancelled || runner.stopping() {
        return Ok(None);
    }
    if summary.pages_ok() == 0 {
        return Err("no page could be converted to find the headings".into());
    }
    drop(summary);
    Arc::try_unwrap(collector)
        .map(Some)
        .map_err(|_| "the heading pass is still running".to_string())
}

/// Where the headings pass may write (it writes nothing but its checkpoints).
fn scratch(output: &std::path::Path) -> PathBuf {
    output.with_file_name("headings-pass")
}

/// Converts and asks, then records the job's end: partial when a section failed or a
/// document had no sections, failed when no section was answered.
fn extract(runner: &Runner, job: &JobRecord, prepared: Prepared, cancel: &AtomicBool) {
    let Prepared {
        spec,
        extractor,
        left_out,
    } = prepared;
    let followed = match runner.submit(spec) {
        Ok(handle) => Ok(runner.follow_events(job, &handle, cancel)),
        Err(e) => Err(e),
    };
    // The sections in flight finish (or fail) before the job ends, whatever happened.
    let sections = extractor.finish();
    match (followed, sections) {
        (Err(pagemill_engine::EngineError::Stopped), _) | (Ok(None), _) => {}
        (Err(e), _) => runner.refused(job, &e.to_string()),
        (Ok(Some(_)), Err(e)) => runner.conclude(
            job,
            JobState::Failed,
            Some(&format!("cannot write the section records: {e}")),
        ),
        (Ok(Some((summary, cancelled))), Ok(sections)) => {
            let (state, error) = end_state(&summary, cancelled, &sections, left_out);
            runner.conclude(job, state, error.as_deref());
        }
    }
}

/// An extraction's end: the conversion's, then the sections'.
fn end_state(
    summary: &JobSummary,
    cancelled: bool,
    sections: &ExtractSummary,
    left_out: usize,
) -> (JobState, Option<String>) {
    let (state, error) = final_state(summary, cancelled);
    if matches!(state, JobState::Cancelled | JobState::Failed) {
        return (state, error);
    }
    let answered = sections.answered + sections.skipped;
    if answered == 0 && sections.failed > 0 {
        return (
            JobState::Failed,
            Some(format!(
                "none of the {} sections was answered (see sections.jsonl)",
                sections.failed
            )),
        );
    }
    if sections.failed > 0 || left_out > 0 {
        let why = match (sections.failed, left_out) {
            (0, n) => format!("{n} documents had no sections"),
            (f, 0) => format!("{f} sections failed (see sections.jsonl)"),
            (f, n) => format!("{f} sections failed; {n} documents had no sections"),
        };
        return (JobState::Partial, error.or(Some(why)));
    }
    (state, error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagemill_engine::FileReport;

    fn converted() -> JobSummary {
        JobSummary {
            files: vec![FileReport {
                pages: 3,
                ok: 3,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn failed_sections_make_the_job_partial_or_failed() {
        let all = ExtractSummary {
            answered: 3,
            ..Default::default()
        };
        assert_eq!(
            end_state(&converted(), false, &all, 0).0,
            JobState::Succeeded
        );
        let some = ExtractSummary {
            answered: 2,
            failed: 1,
            ..Default::default()
        };
        let (state, why) = end_state(&converted(), false, &some, 0);
        assert_eq!(state, JobState::Partial);
        assert!(why.unwrap().contains("1 sections failed"));
        let none = ExtractSummary {
            failed: 3,
            ..Default::default()
        };
        assert_eq!(end_state(&converted(), false, &none, 0).0, JobState::Failed);
        assert_eq!(end_state(&converted(), false, &all, 1).0, JobState::Partial);
        assert_eq!(
            end_state(&converted(), true, &all, 0).0,
            JobState::Cancelled
        );
    }

    #[test]
    fn the_servers_key_never_goes_where_a_client_points() {
        let server = Endpoint {
            url: "http://llm.internal/v1".into(),
            model: "big".into(),
            api_key: Some("secret".into()),
        };
        let own = ExtractJob {
            llm_url: Some("http://elsewhere/v1".into()),
            ..Default::default()
        };
        let e = endpoint(&server, &own);
        assert_eq!((e.url.as_str(), e.api_key), ("http://elsewhere/v1", None));
        let model_only = ExtractJob {
            model: Some("small".into()),
            ..Default::default()
        };
        let e = endpoint(&server, &model_only);
        assert_eq!(e.model, "small");
        assert_eq!(e.api_key.as_deref(), Some("secret"));
    }
}
