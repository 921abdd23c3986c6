//! Faults in the middle of a run: a worker killed while it converts a page costs a retry,
//! never the page or the document.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{data, read_json};

/// Process ids of the live `internal-worker` children of `parent`.
fn workers_of(parent: u32) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the command (which may hold spaces) start after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let ppid = rest
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if ppid == Some(parent) && String::from_utf8_lossy(&cmdline).contains("internal-worker") {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn a_worker_killed_mid_page_is_replaced_and_its_page_retried() {
    let out = tempfile::tempdir().unwrap();
    // One worker OCRing every page (about a second each): whenever it is killed, it is in
    // the middle of a page. Pages are written four behind the last one converted (the
    // furniture stage holds them), so the first is written while the worker is on page 6.
    let mut child = Command::new(env!("CARGO_BIN_EXE_pagemill"))
        .args([
            "convert", "--jobs", "1", "--ocr", "always", "--format", "md,json",
        ])
        .args(["--pages", "1-8", "--progress", "json", "-o"])
        .arg(out.path())
        .arg(data("camlidl-manual.pdf"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut killed = None;
    let started = Instant::now();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if killed.is_none() && line.contains("\"event\":\"page\"") {
            // The first page is written; the worker is on the second.
            std::thread::sleep(Duration::from_millis(300));
            let pids = workers_of(child.id());
            assert_eq!(pids.len(), 1, "one worker: {pids:?}");
            // SAFETY: killing our own grandchild.
            unsafe { libc::kill(pids[0], libc::SIGKILL) };
            killed = Some(pids[0]);
        }
        assert!(started.elapsed() < Duration::from_secs(120), "run hangs");
    }
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        killed.is_some(),
        "the run ended before a page was written: {err}"
    );
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("retrying"), "the retry is logged: {err}");
    let json = read_json(out.path().join("camlidl-manual/camlidl-manual.json"));
    assert_eq!(json["summary"]["ok"], 8, "{}", json["summary"]);
    assert_eq!(json["summary"]["failed"], 0);
}

#[test]
fn a_page_over_the_worker_memory_limit_fails_with_memory_and_the_rest_converts() {
    let out = tempfile::tempdir().unwrap();
    // An 8000×8000 gray scan (64 MB decoded, a few KB as PNG) beside a small real one;
    // each worker may use 60 MiB.
    let big = out.path().join("big.png");
    let mut img = image::GrayImage::from_pixel(8000, 8000, image::Luma([255]));
    for x in 1000..7000 {
        img.put_pixel(x, 4000, image::Luma([0]));
    }
    img.save(&big).unwrap();
    drop(img);
    let o = common::convert(
        &[big, data("tess_phototest.tif")],
        &out.path().join("out"),
        &["--format", "md,json", "--quiet", "--worker-memory", "60MiB"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "partial: {err}");
    let failed = read_json(out.path().join("out/big/big.json"));
    let page = &failed["pages"][0];
    assert_eq!(page["status"], "failed", "{page}");
    assert_eq!(page["reason"], "memory", "{page}");
    // The library says what to raise in its own words; the CLI names the flag on stderr.
    assert!(page["message"]
        .as_str()
        .unwrap()
        .contains("worker memory limit"));
    let small = read_json(out.path().join("out/tess_phototest/tess_phototest.json"));
    assert_eq!(small["summary"]["ok"], 1);
}

#[test]
fn a_run_killed_halfway_resumes_to_the_same_bytes() {
    let out = tempfile::tempdir().unwrap();
    let args = |dir: &std::path::Path| -> Vec<String> {
        vec![
            "convert".into(),
            data("camlidl-manual.pdf").display().to_string(),
            "-o".into(),
            dir.display().to_string(),
            "--jobs".into(),
            "2".into(),
            "--ocr".into(),
            "always".into(),
            "--pages".into(),
            "1-12".into(),
            "--progress".into(),
            "json".into(),
        ]
    };
    let whole = out.path().join("whole");
    let o = Command::new(env!("CARGO_BIN_EXE_pagemill"))
        .args(args(&whole))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // The same run, SIGKILLed once five pages are written.
    let cut = out.path().join("cut");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pagemill"))
        .args(args(&cut))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut pages = 0;
    for line in BufReader::new(stdout).lines() {
        if line.unwrap().contains("\"event\":\"page\"") {
            pages += 1;
            if pages == 5 {
                // SAFETY: killing our own child.
                unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
                break;
            }
        }
    }
    let _ = child.wait();
    assert_eq!(pages, 5, "the run ended before it could be killed");
    let doc = cut.join("camlidl-manual");
    assert!(
        !doc.join("camlidl-manual.md").exists(),
        "no output looks complete"
    );
    let kept = pagemill_engine::resume_records(&doc).unwrap();
    assert!(kept >= 5, "{kept} pages kept");

    let o = Command::new(env!("CARGO_BIN_EXE_pagemill"))
        .args(args(&cut))
        .arg("--resume")
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("resumed"),
        "the kept pages were replayed: {err}"
    );
    assert!(!doc.join(pagemill_engine::RESUME_DIR).exists());
    common::assert_same_tree(&whole.join("camlidl-manual"), &doc, "after resuming");
}
