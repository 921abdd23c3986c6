//! `pagemill extract` end to end (issue 18): the happy path against the real llama-server
//! (SmolLM2-135M, built by scripts/setup), faults injected by a proxy in front of it —
//! 500s and 503s, 429 with Retry-After, dropped connections, a hung endpoint, answers
//! that do not match the schema — oversize sections sent in parts, a run killed with
//! SIGKILL and resumed, and the API key kept out of every output.
//!
//! The model is tiny: these tests check the plumbing, schema validity, isolation and
//! bounds, not what the answers say.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::llm::{Action, FaultProxy, Llama};
use common::*;
use serde_json::Value;

const PROMPT: &str = "Section {{section}} of {{document}}, titled \"{{title}}\" (pages {{pages}}), \
part {{part}}:\n\n{{markdown}}\n\nGive the section's title and at most three topics it covers, as JSON.";

const SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "title": {"type": "string", "maxLength": 80},
    "topics": {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 3}
  },
  "required": ["title", "topics"],
  "additionalProperties": false
}"#;

struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Run {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("prompt.md"), PROMPT).unwrap();
        std::fs::write(dir.path().join("schema.json"), SCHEMA).unwrap();
        Run { dir }
    }

    fn out(&self) -> std::path::PathBuf {
        self.dir.path().join("out")
    }

    fn command(&self, url: &str, sections: &str, extra: &[&str]) -> Command {
        self.command_on("freefem-manual.pdf", url, sections, extra)
    }

    fn command_on(&self, pdf: &str, url: &str, sections: &str, extra: &[&str]) -> Command {
        let d = self.dir.path();
        let mut c = Command::new(env!("CARGO_BIN_EXE_pagemill"));
        c.arg("extract")
            .arg(data(pdf))
            .args([
                "--sections",
                sections,
                "--llm-url",
                url,
                "--model",
                "smollm2",
            ])
            .arg("--prompt")
            .arg(d.join("prompt.md"))
            .arg("--schema")
            .arg(d.join("schema.json"))
            .arg("-o")
            .arg(self.out())
            .args(["--jobs", "2", "--progress", "json"])
            .args(extra)
            .env_remove("PAGEMILL_LLM_API_KEY");
        if !extra.contains(&"--max-section-tokens") {
            // The test server's slots hold 4,096 tokens: room for the answer.
            c.args(["--max-section-tokens", "3000"]);
        }
        c
    }

    fn run(&self, url: &str, sections: &str, extra: &[&str]) -> Output {
        self.command(url, sections, extra)
            .output()
            .expect("run pagemill")
    }

    fn records(&self) -> Vec<Value> {
        self.records_of("freefem-manual")
    }

    fn records_of(&self, stem: &str) -> Vec<Value> {
        let p = self.out().join(format!("{stem}/{stem}.sections.jsonl"));
        read(p)
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }
}

fn events(o: &Output, name: &str) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == name)
        .collect()
}

fn assert_answer_matches(r: &Value) {
    assert_eq!(r["state"], "answered", "{r}");
    let a = &r["answer"];
    assert!(a["title"].is_string(), "{r}");
    let topics = a["topics"].as_array().expect("topics");
    assert!(
        topics.len() <= 3 && topics.iter().all(Value::is_string),
        "{r}"
    );
}

const SMALL: &str = "pages:1-2,3-4,5-6";

#[test]
fn every_section_of_an_outline_is_answered_with_json_that_matches_the_schema() {
    let key = "sk-test-7c1d0e55-never-shown";
    let llama = Llama::start(Some(key));
    let run = Run::new();
    // A nested outline with CJK titles whose top bookmark points nowhere: 9 sections.
    let o = run
        .command_on(
            "pdfplumber_duplicate_chars.pdf",
            &llama.url,
            "outline:2",
            &[],
        )
        .env("PAGEMILL_LLM_API_KEY", key)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let records = run.records_of("pdfplumber_duplicate_chars");
    assert_eq!(records.len(), 9, "one line per section");
    let ids: Vec<&str> = records.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"]);
    assert_eq!(
        records[0]["path"],
        serde_json::json!(["巴哈v", "项目吊称一1"])
    );
    for r in &records {
        assert_answer_matches(r);
        assert!(r["tokens_in"].as_u64().unwrap() > 0, "{r}");
        let md = run
            .out()
            .join("pdfplumber_duplicate_chars")
            .join(r["markdown"].as_str().unwrap());
        assert!(
            std::fs::metadata(&md).unwrap().len() > 0,
            "{}",
            md.display()
        );
    }
    assert_eq!(events(&o, "section_answered").len(), 9);

    // The key went to the endpoint (it refuses requests without it) and nowhere else.
    let run2 = Run::new();
    let refused = run2.run(&llama.url, SMALL, &[]);
    assert_eq!(
        refused.status.code(),
        Some(1),
        "all sections refused without the key"
    );
    assert!(run2
        .records()
        .iter()
        .all(|r| r["error"].as_str().unwrap().contains("401")));
    for text in [&o.stdout, &o.stderr] {
        assert!(!String::from_utf8_lossy(text).contains(key));
    }
    for entry in walk(&run.out()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(key),
            "{}",
            entry.display()
        );
    }
}

#[test]
fn a_section_longer_than_the_budget_goes_in_parts_and_comes_back_as_one_answer() {
    let llama = Llama::start(None);
    let run = Run::new();
    let o = run.run(&llama.url, "pages:9-14", &["--max-section-tokens", "1200"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = &run.records()[0];
    assert_answer_matches(r);
    assert!(r["parts"].as_u64().unwrap() > 1, "{r}");
    assert!(
        r["attempts"].as_u64().unwrap() >= r["parts"].as_u64().unwrap(),
        "{r}"
    );
    let sent = events(&o, "section_sent");
    assert_eq!(sent[0]["parts"], r["parts"]);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn errors_rate_limits_dropped_connections_and_bad_answers_are_retried_until_answered() {
    let llama = Llama::start(None);
    // Request 0: 500; 1: 429 with Retry-After 1; 2: dropped; 3: an answer that does not
    // match the schema; then everything goes through.
    let proxy = FaultProxy::start(
        &llama.url,
        Box::new(|n, _| match n {
            0 => Action::Status(500, vec![], r#"{"error":"boom"}"#.into()),
            1 => Action::Status(429, vec![("retry-after".into(), "1".into())], "{}".into()),
            2 => Action::Drop,
            3 => Action::Answer(r#"{"title": 5, "topics": "none"}"#.into()),
            _ => Action::Forward,
        }),
    );
    let run = Run::new();
    let started = std::time::Instant::now();
    let o = run.run(&proxy.url, SMALL, &["--llm-concurrency", "1"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let records = run.records();
    assert_eq!(records.len(), 3);
    for r in &records {
        assert_answer_matches(r);
    }
    let retried = events(&o, "section_retried");
    let reasons: Vec<&str> = retried
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("HTTP 500")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("429")), "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("connection")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("does not match the schema")),
        "{reasons:?}"
    );
    // Retry-After was honoured.
    let wait = retried
        .iter()
        .find(|e| e["reason"].as_str().unwrap().contains("429"))
        .unwrap()["wait_s"]
        .as_f64()
        .unwrap();
    assert_eq!(wait, 1.0);
    assert!(started.elapsed() >= Duration::from_secs(1));
    // The correction quoted the validation error back to the model.
    assert_eq!(records[0]["attempts"], 5, "{}", records[0]);
    let total: u64 = records
        .iter()
        .map(|r| r["attempts"].as_u64().unwrap())
        .sum();
    assert_eq!(total as usize, proxy.requests.load(Ordering::SeqCst));
}

#[test]
fn a_section_that_keeps_failing_is_recorded_failed_and_resume_asks_only_for_it() {
    let llama = Llama::start(None);
    // Section s2's requests always fail (503); the others pass.
    let proxy = FaultProxy::start(
        &llama.url,
        Box::new(|_, prompt| {
            if prompt.starts_with("Section s2 ") {
                Action::Status(503, vec![], r#"{"error":"overloaded"}"#.into())
            } else {
                Action::Forward
            }
        }),
    );
    let run = Run::new();
    let o = run.run(&proxy.url, SMALL, &["--retries", "1"]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "partial: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let records = run.records();
    assert_eq!(records.len(), 3);
    assert_eq!(records[1]["state"], "failed");
    let error = records[1]["error"].as_str().unwrap();
    assert!(
        error.contains("HTTP 503") && error.contains("gave up after 2 tries"),
        "{error}"
    );
    assert_eq!(records[1]["attempts"], 2);
    assert_answer_matches(&records[0]);
    assert_answer_matches(&records[2]);

    // Resume against a healthy endpoint: only s2 is asked.
    let healthy = FaultProxy::start(&llama.url, Box::new(|_, _| Action::Forward));
    let o = run.run(&healthy.url, SMALL, &["--resume"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let prompts = healthy.prompts.lock().unwrap().clone();
    assert_eq!(prompts.len(), 1, "{prompts:?}");
    assert!(prompts[0].starts_with("Section s2 "));
    assert_eq!(events(&o, "section_skipped").len(), 2);
    let records = run.records();
    assert_eq!(records.len(), 3);
    records.iter().for_each(assert_answer_matches);
}

#[test]
fn a_hung_endpoint_times_out_and_the_section_is_recorded_failed() {
    let proxy = FaultProxy::start(
        "http://127.0.0.1:9/v1",
        Box::new(|_, _| Action::Hang(Duration::from_secs(10))),
    );
    let run = Run::new();
    let started = std::time::Instant::now();
    let o = run.run(
        &proxy.url,
        "pages:1",
        &["--section-timeout", "1", "--retries", "1"],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = &run.records()[0];
    assert_eq!(r["state"], "failed");
    assert_eq!(r["attempts"], 2);
    assert!(
        r["error"].as_str().unwrap().contains("no answer within 1s"),
        "{r}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the timeout, not the endpoint, ended it"
    );
}

#[test]
fn a_refused_request_is_not_retried() {
    let proxy = FaultProxy::start(
        "http://127.0.0.1:9/v1",
        Box::new(|_, _| Action::Status(400, vec![], r#"{"error":"bad request"}"#.into())),
    );
    let run = Run::new();
    let o = run.run(&proxy.url, "pages:1", &[]);
    assert_eq!(o.status.code(), Some(1));
    let r = &run.records()[0];
    assert_eq!(r["state"], "failed");
    assert_eq!(r["attempts"], 1);
    assert!(r["error"].as_str().unwrap().contains("HTTP 400"), "{r}");
}

#[test]
fn a_run_killed_mid_way_resumes_without_asking_again_for_what_it_finished() {
    let llama = Llama::start(None);
    // One request at a time, each held a moment: the kill lands mid-run.
    let slow = FaultProxy::start(
        &llama.url,
        Box::new(|_, _| Action::Delay(Duration::from_millis(1500))),
    );
    let run = Run::new();
    let sections = "pages:1,2,3,4,5,6";
    let mut child = run
        .command(&slow.url, sections, &["--llm-concurrency", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let records = run
        .out()
        .join("freefem-manual/freefem-manual.sections.jsonl");
    let started = std::time::Instant::now();
    while std::fs::read_to_string(&records)
        .map(|t| t.lines().count())
        .unwrap_or(0)
        < 2
    {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no section finished"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    let done = std::fs::read_to_string(&records).unwrap().lines().count();
    assert!(done < 6, "killed before the end");

    let healthy = FaultProxy::start(&llama.url, Box::new(|_, _| Action::Forward));
    let o = run.run(&healthy.url, sections, &["--resume"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let asked = healthy.requests.load(Ordering::SeqCst);
    assert!(
        asked <= 6 - done,
        "asked {asked} with {done} already answered"
    );
    let all = run.records();
    assert_eq!(all.len(), 6, "each section once");
    all.iter().for_each(assert_answer_matches);
}

#[test]
fn headings_sections_convert_each_page_once_and_read_the_spooled_pages() {
    // Answers come from the proxy (the model's answers are not what this checks).
    let proxy = FaultProxy::start(
        "http://127.0.0.1:9/v1",
        Box::new(|_, _| Action::Answer(r#"{"title": "t", "topics": []}"#.into())),
    );
    let run = Run::new();
    let o = run
        .command_on("docling_normal_4pages.pdf", &proxy.url, "headings", &[])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pages: Vec<u64> = events(&o, "page")
        .iter()
        .map(|e| e["page"].as_u64().unwrap())
        .collect();
    assert_eq!(pages, vec![1, 2, 3, 4], "each page converted once");
    let records = run.records_of("docling_normal_4pages");
    assert_eq!(
        records.len(),
        2,
        "the two headings `pagemill sections` lists"
    );
    records.iter().for_each(assert_answer_matches);
    // The second section runs over all four pages: its Markdown came from the spool.
    let md = read(
        run.out()
            .join("docling_normal_4pages/docling_normal_4pages.sections/s2.md"),
    );
    assert!(md.len() > 1000, "{} bytes", md.len());
    let prompts = proxy.prompts.lock().unwrap().clone();
    assert!(
        prompts.iter().any(|p| p.contains("재해보험금")),
        "{prompts:?}"
    );
}
