//! Extraction jobs (`POST /v1/jobs` with a `prompt`): `pagemill extract` on the shared
//! engine. Sections are found first, then the job converts the pages its sections cover
//! and each finished section goes to the server's LLM endpoint (for the `headings` rule,
//! the job converts every page first, spooling them, and the extraction reads the spool); section events join the job's event stream as they happen, and
//! `IN.sections.jsonl` with each section's Markdown are among its results.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use pagemill_core::ranges::PageRanges;
use pagemill_engine::{JobSpec, JobSummary};
use pagemill_extract::{
    AskConfig, Backoff, Client, DocPlan, Endpoint, ExtractOptions, ExtractSummary, Extractor,
    PageSpool, SectionEvent, Source,
};
use pagemill_sections::{HeadingCollector, SectionRule};
use serde_json::Value;

use crate::options::{ExtractJob, JobOptions};
use crate::runner::{final_state, Runner};
use crate::store::{JobRecord, JobState};

/// Runs an extraction job to its end (or until the server stops).
pub(crate) fn run(
    runner: &Runner,
    job: &JobRecord,
    spec: JobSpec,
    options: &JobOptions,
    cancel: &AtomicBool,
) {
    let needs_headings = options
        .extract
        .as_ref()
        .and_then(|x| x.rule().ok())
        .is_some_and(|r| r.needs_conversion());
    if needs_headings {
        return by_headings(runner, job, spec, options, cancel);
    }
    match prepare(runner, job, spec, options, None) {
        Ok(prepared) => extract(runner, job, prepared, cancel),
        Err(message) => runner.refused(job, &message),
    }
}

/// The `headings` rule: the job converts every page once, keeping their headings and
/// spooling the pages to disk; then the sections are found and the extraction reads the
/// spooled pages (no second conversion).
fn by_headings(
    runner: &Runner,
    job: &JobRecord,
    spec: JobSpec,
    options: &JobOptions,
    cancel: &AtomicBool,
) {
    let dir = spool_dir(&spec.output);
    let spool = match PageSpool::new(&dir) {
        Ok(s) => Arc::new(s),
        Err(e) => return runner.refused(job, &format!("cannot spool pages: {e}")),
    };
    let collector = Arc::new(HeadingCollector::new(6));
    let pass = JobSpec {
        sinks: vec![collector.clone(), spool.clone()],
        ..spec.clone()
    };
    let followed = match runner.submit(pass) {
        Ok(handle) => runner.follow_events(job, &handle, cancel),
        Err(pagemill_engine::EngineError::Stopped) => None,
        Err(e) => return runner.refused(job, &e.to_string()),
    };
    // The server is stopping: the job resumes at the next start.
    let Some((summary, cancelled)) = followed else {
        return;
    };
    let (state, error) = final_state(&summary, cancelled);
    if matches!(state, JobState::Cancelled | JobState::Failed) {
        let _ = std::fs::remove_dir_all(&dir);
        return runner.conclude(job, state, error.as_deref());
    }
    match prepare(runner, job, spec, options, Some(&collector)) {
        Ok(prepared) => {
            let factory = prepared.extractor.sink_factory();
            for path in &prepared.spec.inputs {
                if let Err(e) = spool.replay(path, &*factory) {
                    tracing::warn!(job = %job.id_short(), error = %e, "a spooled document could not be read back");
                }
            }
            drop(factory);
            finish(runner, job, prepared, Some((summary, false)));
        }
        Err(message) => runner.refused(job, &message),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A job ready to convert: its spec (with the extractor's sink), and the documents left
/// out because no sections were found in them.
struct Prepared {
    spec: JobSpec,
    extractor: Extractor,
    left_out: usize,
}

/// Finds the sections (with the documents' headings, for the `headings` rule) and sets
/// up the extractor.
fn prepare(
    runner: &Runner,
    job: &JobRecord,
    mut spec: JobSpec,
    options: &JobOptions,
    headings: Option<&HeadingCollector>,
) -> Result<Prepared, String> {
    let x = options.extract.as_ref().ok_or("not an extraction job")?;
    let llm = runner
        .llm()
        .ok_or("this server has no LLM endpoint configured for extraction")?;
    let rule = x.rule().map_err(|e| e.to_string())?;
    let ask = AskConfig {
        template: x.template().map_err(|e| e.to_string())?,
        schema: x.schema().map_err(|e| e.to_string())?,
        backoff: Backoff::with_retries(x.retries),
        corrections: x.corrections,
        max_prompt_tokens: x.max_section_tokens,
    };
    let client = Client::new(endpoint(&llm.config.endpoint, x), timeout(x))
        .map_err(|e| format!("cannot set up the LLM client: {e}"))?
        .with_gate(Arc::clone(&llm.gate));

    let (inputs, _) = pagemill_engine::plan_inputs(&spec.inputs, &spec.output);
    let sources: Vec<Source> = inputs
        .iter()
        .map(|i| Source {
            path: i.path.clone(),
            shown: file_name(&i.path),
        })
        .collect();
    let found =
        pagemill_extract::find_sections(&sources, &rule, headings).map_err(|e| e.to_string())?;
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
    Ok(Prepared {
        spec,
        left_out: errors.len(),
        extractor,
    })
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

/// Where the `headings` rule spools pages: the job's folder, outside its results.
fn spool_dir(output: &std::path::Path) -> PathBuf {
    output.with_file_name("spool")
}

/// Converts and asks, then records the job's end: partial when a section failed or a
/// document had no sections, failed when no section was answered.
fn extract(runner: &Runner, job: &JobRecord, mut prepared: Prepared, cancel: &AtomicBool) {
    let spec = std::mem::take(&mut prepared.spec);
    match runner.submit(spec) {
        Ok(handle) => {
            let followed = runner.follow_events(job, &handle, cancel);
            drop(handle);
            finish(runner, job, prepared, followed);
        }
        Err(e) => {
            // The sections in flight finish (or fail) before the job ends.
            let _ = prepared.extractor.finish();
            if !matches!(e, pagemill_engine::EngineError::Stopped) {
                runner.refused(job, &e.to_string());
            }
        }
    }
}

/// Waits for the sections in flight, then records the job's end from the conversion's
/// summary (`None`: the server is stopping, and the job stays to resume).
fn finish(
    runner: &Runner,
    job: &JobRecord,
    prepared: Prepared,
    followed: Option<(JobSummary, bool)>,
) {
    let Prepared {
        spec,
        extractor,
        left_out,
    } = prepared;
    // The job's sinks (the extractor's among them) are dropped before it waits.
    drop(spec);
    let sections = extractor.finish();
    match (followed, sections) {
        (None, _) => {}
        (Some(_), Err(e)) => runner.conclude(
            job,
            JobState::Failed,
            Some(&format!("cannot write the section records: {e}")),
        ),
        (Some((summary, cancelled)), Ok(sections)) => {
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
