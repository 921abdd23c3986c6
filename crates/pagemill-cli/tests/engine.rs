//! The engine as a library, with real worker processes: two jobs at once on one engine,
//! under one small memory budget; and blank pages, which are not OCRed.

mod common;

use std::time::{Duration, Instant};

use common::{data, read_json};
use pagemill_engine::config::TEXT_PAGE_COST;
use pagemill_engine::{Engine, EngineConfig, JobEvent, JobSpec};

fn engine(budget: u64) -> Engine {
    Engine::start(EngineConfig {
        workers: 2,
        memory_budget: budget,
        worker_exe: Some(env!("CARGO_BIN_EXE_pagemill").into()),
        ..Default::default()
    })
    .expect("engine starts")
}

#[test]
fn two_jobs_share_one_engine_and_the_small_one_finishes_first() {
    let out = tempfile::tempdir().unwrap();
    // Room for three text pages in flight across both jobs.
    let budget = 3 * TEXT_PAGE_COST;
    let engine = engine(budget);
    // The long job: the 26-page manual twice, with the layout PDF (~40 ms a page).
    let long = engine
        .submit(JobSpec {
            inputs: vec![data("camlidl-manual.pdf"), data("camlidl-manual.pdf")],
            output: out.path().join("long"),
            ..Default::default()
        })
        .unwrap();
    // Let it get going before the short job arrives.
    let started = Instant::now();
    while !matches!(
        long.next_event(Duration::from_secs(10)),
        Some(JobEvent::Page { .. })
    ) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no page written"
        );
    }
    let short = engine
        .submit(JobSpec {
            inputs: vec![data("docling_normal_4pages.pdf")],
            output: out.path().join("short"),
            ..Default::default()
        })
        .unwrap();
    let s = short.wait();
    assert!(
        !long.is_finished(),
        "the short job finished while the long one was still running"
    );
    let l = long.wait();
    assert_eq!((s.pages_ok(), s.pages_failed()), (4, 0), "{s:?}");
    assert_eq!((l.pages_ok(), l.pages_failed()), (52, 0), "{l:?}");
    assert!(
        l.budget_peak <= budget,
        "budget {budget}, peak {}",
        l.budget_peak
    );
    assert!(s.budget_peak <= budget);
    // Both jobs wrote complete outputs of their own.
    let md = out
        .path()
        .join("short/docling_normal_4pages/docling_normal_4pages.md");
    assert!(md.exists());
    assert!(out
        .path()
        .join("long/camlidl-manual-2/camlidl-manual-2.md")
        .exists());
}

#[test]
fn blank_pages_are_recorded_as_blank_and_not_ocred() {
    let out = tempfile::tempdir().unwrap();
    let engine = engine(512 << 20);
    // Four pages of R-intro with an empty one inserted: contents, empty, contents, a plot.
    let job = engine
        .submit(JobSpec {
            inputs: vec![data("blank_page_sample.pdf")],
            output: out.path().join("auto"),
            ..Default::default()
        })
        .unwrap();
    let summary = job.wait();
    assert_eq!(summary.pages_ok(), 4);
    let json = read_json(
        out.path()
            .join("auto/blank_page_sample/blank_page_sample.json"),
    );
    let sources: Vec<&str> = json["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["text_layer", "blank", "text_layer", "text_layer"]);

    // `--ocr always` still means always.
    let mut spec = JobSpec {
        inputs: vec![data("blank_page_sample.pdf")],
        output: out.path().join("always"),
        pages: pagemill_core::ranges::PageRanges::parse("2").unwrap(),
        ..Default::default()
    };
    spec.ocr.mode = pagemill_core::settings::OcrMode::Always;
    engine.submit(spec).unwrap().wait();
    let json = read_json(
        out.path()
            .join("always/blank_page_sample/blank_page_sample.json"),
    );
    assert_eq!(json["pages"][0]["source"], "ocr");
}
