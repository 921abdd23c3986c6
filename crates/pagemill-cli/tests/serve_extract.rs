//! Extraction jobs through `pagemill serve` (issue 18, the service): `POST /v1/jobs` with a
//! prompt, a schema and sections; section events over SSE; `sections.jsonl` among the
//! results; the LLM endpoint and its key from the server's configuration only.
//!
//! The happy path runs against the real llama-server (SmolLM2-135M, built by
//! scripts/setup), which requires an API key here, so a job that reached it used the
//! server's key.

mod common;

use common::data;
use common::llm::Llama;
use common::server::{client, events, file_names, get_json, post_job, upload, Server};
use reqwest::StatusCode;
use serde_json::Value;

const KEY: &str = "sk-serve-extract-4b1d9e";

const PROMPT: &str =
    "Section {{section}} of {{document}}, titled \"{{title}}\" (pages {{pages}}):\n\n\
{{markdown}}\n\nGive the section's title and at most three topics it covers, as JSON.";

const SCHEMA: &str = r#"{"type": "object",
  "properties": {"title": {"type": "string", "maxLength": 80},
                 "topics": {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 3}},
  "required": ["title", "topics"], "additionalProperties": false}"#;

fn post(s: &Server, fields: &[(&str, &str)]) -> (StatusCode, Value) {
    post_job(s, &data("freefem-manual.pdf"), fields)
}

#[test]
fn an_extraction_job_streams_section_events_and_lists_its_answers() {
    let llama = Llama::start(Some(KEY));
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("llm.key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let data_dir = dir.path().join("data");
    let s = Server::start(
        &data_dir,
        &[
            "--llm-url",
            &llama.url,
            "--llm-model",
            "smollm2",
            "--llm-key-file",
            key_file.to_str().unwrap(),
        ],
    );
    let job = upload(
        &s,
        &data("freefem-manual.pdf"),
        &[
            ("prompt", PROMPT),
            ("schema", SCHEMA),
            ("sections", "pages:1-2,3-4"),
            // The test server's slots hold 4,096 tokens: room for the answer.
            ("max_section_tokens", "3000"),
        ],
    );
    let id = job["id"].as_str().unwrap().to_string();
    let evs = events(&s, &id, None);
    let kinds: Vec<&str> = evs.iter().map(|e| e.1["event"].as_str().unwrap()).collect();
    assert_eq!(
        evs.last().unwrap().1["state"],
        "succeeded",
        "{kinds:?}: {:?}",
        evs.last()
    );
    let answered: Vec<&Value> = evs
        .iter()
        .map(|e| &e.1)
        .filter(|e| e["event"] == "section_answered")
        .collect();
    assert_eq!(answered.len(), 2, "{kinds:?}");
    assert!(kinds.contains(&"section_sent"), "{kinds:?}");
    for e in &answered {
        assert_eq!(e["job"], id.as_str());
        assert_eq!(e["document"], "freefem-manual.pdf");
    }
    // Only the sections' pages were converted.
    let pages = evs.iter().filter(|e| e.1["event"] == "page").count();
    assert_eq!(pages, 4);

    let names = file_names(&s, &id);
    assert!(
        names.iter().any(|n| n == "freefem-manual.sections.jsonl")
            && names.iter().any(|n| n == "freefem-manual.sections/s1.md"),
        "{names:?}"
    );
    let jsonl = client()
        .get(s.url(&format!(
            "/v1/jobs/{id}/files/freefem-manual.sections.jsonl"
        )))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let records: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2);
    for r in &records {
        assert_eq!(r["state"], "answered", "{r}");
        assert!(r["answer"]["title"].is_string(), "{r}");
        assert!(r["answer"]["topics"].as_array().unwrap().len() <= 3, "{r}");
    }
    assert_eq!(records[1]["pages"], "3-4");

    // The key reached the endpoint (it refuses requests without it) and nothing else.
    let everything = format!(
        "{}{}{}",
        evs.iter().map(|e| e.1.to_string()).collect::<String>(),
        jsonl,
        get_json(&s, &format!("/v1/jobs/{id}"))
    );
    assert!(!everything.contains(KEY), "the key leaked");

    // A job may not pick its own endpoint unless the operator allows it.
    let (status, body) = post(
        &s,
        &[("prompt", PROMPT), ("llm_url", "http://127.0.0.1:9/v1")],
    );
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "llm_endpoint_fixed", "{body}");
    // A server file is not a sections list.
    let (status, body) = post(&s, &[("prompt", PROMPT), ("sections", "file:/etc/passwd")]);
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[test]
fn a_failing_section_makes_the_job_partial_and_a_server_without_an_endpoint_refuses() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 9 (discard): every request fails at once, after its
    // retries; the job still ends, every section recorded with its reason.
    let s = Server::start(
        &dir.path().join("data"),
        &["--llm-url", "http://127.0.0.1:9/v1"],
    );
    let job = upload(
        &s,
        &data("freefem-manual.pdf"),
        &[
            ("prompt", PROMPT),
            ("sections", "pages:1-2"),
            ("retries", "0"),
        ],
    );
    let id = job["id"].as_str().unwrap().to_string();
    let evs = events(&s, &id, None);
    let last = &evs.last().unwrap().1;
    assert_eq!(last["state"], "failed", "{last}");
    let failed: Vec<&Value> = evs
        .iter()
        .map(|e| &e.1)
        .filter(|e| e["event"] == "section_failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]["error"].as_str().unwrap().contains("connection"),
        "{}",
        failed[0]
    );
    let status = get_json(&s, &format!("/v1/jobs/{id}"));
    assert!(
        status
            .to_string()
            .contains("none of the 1 sections was answered"),
        "{status}"
    );

    // The headings rule: a conversion pass finds them (its pages are not the job's
    // events), then every section is asked about — here failing at once.
    let job = upload(
        &s,
        &data("docling_normal_4pages.pdf"),
        &[
            ("prompt", PROMPT),
            ("sections", "headings"),
            ("retries", "0"),
        ],
    );
    let id = job["id"].as_str().unwrap().to_string();
    let evs = events(&s, &id, None);
    let count = |name: &str| evs.iter().filter(|e| e.1["event"] == name).count();
    assert_eq!(count("page"), 4, "each page once");
    // `pagemill sections --sections headings` finds two in this file.
    assert_eq!(count("section_failed"), 2);
    assert_eq!(evs.last().unwrap().1["state"], "failed");
    drop(s);

    let s = Server::start(&dir.path().join("data2"), &[]);
    let (status, body) = post(&s, &[("prompt", PROMPT)]);
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "no_llm", "{body}");
}
