//! `pagemill index --entities llm` (issue 18): the built-in entity prompt and schema asked
//! about every chunk through the real llama-server, names the chunk does not hold
//! dropped, and a failing endpoint costing the LLM's entities only (exit 3), never a
//! chunk.

mod common;

use std::path::Path;

use common::llm::{Action, FaultProxy, Llama};
use common::*;
use serde_json::Value;

/// The manual's first two pages (title, authors' addresses, contents) as a PDF of their
/// own, cut with `pagemill split`.
fn front_pages(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("parts");
    let o = pagemill(&[
        "split",
        data("freefem-manual.pdf").to_str().unwrap(),
        "--sections",
        "pages:1-2",
        "-o",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out.join("freefem-manual/freefem-manual.s1.pdf")
}

fn index_with_llm(dir: &Path, url: &str, extra: &[&str]) -> std::process::Output {
    let pdf = front_pages(dir);
    let d = dir.join("ix").display().to_string();
    let mut args = vec![
        "index",
        pdf.to_str().unwrap(),
        "--index",
        &d,
        "--entities",
        "llm",
        "--llm-url",
        url,
        "--llm-model",
        "smollm2",
    ];
    args.extend_from_slice(extra);
    pagemill(&args)
}

fn chunks(dir: &Path) -> usize {
    let o = pagemill(&[
        "index",
        "--stats",
        "--index",
        &dir.join("ix").display().to_string(),
    ]);
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("chunks:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("a chunk count")
}

fn hits(dir: &Path, entity: &str) -> Vec<Value> {
    let d = dir.join("ix").display().to_string();
    let o = pagemill(&[
        "search", "--index", &d, "manual", "--json", "-k", "20", "--entity", entity,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["hits"].as_array().unwrap().clone()
}

#[test]
fn every_chunk_is_asked_and_only_names_in_it_are_kept() {
    let llama = Llama::start(None);
    // The real model first: one request per chunk, all answered.
    let healthy = FaultProxy::start(&llama.url, Box::new(|_, _| Action::Forward));
    let dir = tempfile::tempdir().unwrap();
    let o = index_with_llm(dir.path(), &healthy.url, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let n = chunks(dir.path());
    assert!(n >= 1, "{n} chunks");
    assert_eq!(
        healthy.requests.load(std::sync::atomic::Ordering::SeqCst),
        n
    );
    let prompts = healthy.prompts.lock().unwrap().clone();
    assert!(
        prompts.iter().all(|p| p.contains("freefem-manual.s1.pdf")),
        "the prompt names the document"
    );

    // Answers that name a place on page 1 and a person who is nowhere in the text.
    let scripted = FaultProxy::start(
        &llama.url,
        Box::new(|_, _| {
            Action::Answer(
                r#"{"entities": [{"kind": "place", "name": "Paris"},
                                  {"kind": "person", "name": "Zebulon Quixote"}]}"#
                    .into(),
            )
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    let o = index_with_llm(dir.path(), &scripted.url, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let paris = hits(dir.path(), "place=Paris");
    assert!(!paris.is_empty(), "the chunk holding Paris has it");
    for h in &paris {
        assert!(h["text"].as_str().unwrap().contains("Paris"), "{h}");
    }
    assert!(
        hits(dir.path(), "person").is_empty(),
        "an invented name is dropped"
    );
    // The rules' entities are kept beside the model's.
    assert!(!hits(dir.path(), "email").is_empty());
}

#[test]
fn a_dead_endpoint_costs_the_llm_entities_not_the_chunks() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 9: every request fails at once.
    let o = index_with_llm(dir.path(), "http://127.0.0.1:9/v1", &["--retries", "0"]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("failed: their rule entities are kept"),
        "{err}"
    );
    assert!(chunks(dir.path()) >= 1);
    assert!(!hits(dir.path(), "email").is_empty());
}
