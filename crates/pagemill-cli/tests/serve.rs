//! `pagemill serve` end to end, the API at work: the real binary on a loopback port, a real
//! HTTP client. Limits, keys and stops are in `serve_guards.rs`.

mod common;

use std::process::Command;

use common::server::{client, converted_page, events, file_names, get_json, upload, Server};
use common::{convert, data, read};
use reqwest::blocking::multipart;
use reqwest::StatusCode;
use serde_json::Value;

#[test]
fn an_upload_converts_and_its_events_stream_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let job = upload(
        &s,
        &data("camlidl-manual.pdf"),
        &[("pages", "1-4"), ("format", "md,json")],
    );
    let id = job["id"].as_str().unwrap().to_string();
    assert_eq!(job["state"], "queued");

    let evs = events(&s, &id, None);
    let ids: Vec<u64> = evs.iter().map(|e| e.0).collect();
    assert_eq!(
        ids,
        (1..=evs.len() as u64).collect::<Vec<_>>(),
        "ids count up from 1"
    );
    let kinds: Vec<&str> = evs.iter().map(|e| e.1["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"state"));
    assert_eq!(evs.last().unwrap().1["state"], "succeeded");
    let pages: Vec<u64> = evs
        .iter()
        .filter(|e| e.1["event"] == "page")
        .map(|e| e.1["page"].as_u64().unwrap())
        .collect();
    assert_eq!(pages, vec![1, 2, 3, 4]);
    assert!(
        evs.iter().all(|e| e.1["job"] == id.as_str()),
        "events carry the service's job id"
    );
    let text = evs.iter().map(|e| e.1.to_string()).collect::<String>();
    assert!(
        !text.contains(&dir.path().display().to_string()),
        "no server path leaks: {text}"
    );

    // A reconnecting client gets what follows its last event only.
    let rest = events(&s, &id, Some(3));
    assert_eq!(rest.first().map(|e| e.0), Some(4));
    assert_eq!(rest.len(), evs.len() - 3);

    let status = get_json(&s, &format!("/v1/jobs/{id}"));
    assert_eq!(status["state"], "succeeded");
    assert_eq!(status["pages"]["done"], 4);
    assert_eq!(status["pages"]["total"], 4);

    assert_eq!(
        file_names(&s, &id),
        vec!["camlidl-manual.json", "camlidl-manual.md"]
    );

    // The service writes what the CLI writes.
    let cli = tempfile::tempdir().unwrap();
    let o = convert(
        &[data("camlidl-manual.pdf")],
        cli.path(),
        &["--pages", "1-4", "--format", "md,json"],
    );
    assert!(o.status.success());
    let res = client()
        .get(s.url(&format!("/v1/jobs/{id}/files/camlidl-manual.md")))
        .send()
        .unwrap();
    assert_eq!(
        res.headers()["content-type"],
        "text/markdown; charset=utf-8"
    );
    assert_eq!(
        res.text().unwrap(),
        read(cli.path().join("camlidl-manual/camlidl-manual.md"))
    );

    // A range of it.
    let res = client()
        .get(s.url(&format!("/v1/jobs/{id}/files/camlidl-manual.md")))
        .header("Range", "bytes=0-9")
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.bytes().unwrap().len(), 10);

    let listed = get_json(&s, "/v1/jobs");
    assert_eq!(listed["jobs"][0]["id"], id.as_str());

    // Deleted: gone from the API and the disk.
    let res = client()
        .delete(s.url(&format!("/v1/jobs/{id}")))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = client()
        .get(s.url(&format!("/v1/jobs/{id}")))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(!dir.path().join("jobs").join(&id).exists());
}

#[test]
fn the_archive_and_metrics_report_what_was_done() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let job = upload(
        &s,
        &data("camlidl-manual.pdf"),
        &[("pages", "1-2"), ("format", "md,json")],
    );
    let id = job["id"].as_str().unwrap();
    assert_eq!(events(&s, id, None).last().unwrap().1["state"], "succeeded");

    let res = client()
        .get(s.url(&format!("/v1/jobs/{id}/archive")))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/zip");
    let zip_path = dir.path().join("a.zip");
    std::fs::write(&zip_path, res.bytes().unwrap()).unwrap();
    let listing = Command::new("python3")
        .args(["-c", "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print('\\n'.join(sorted(z.namelist())))"])
        .arg(&zip_path)
        .output()
        .unwrap();
    assert!(
        listing.status.success(),
        "{}",
        String::from_utf8_lossy(&listing.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&listing.stdout).trim(),
        "camlidl-manual.json\ncamlidl-manual.md"
    );

    let metrics = client()
        .get(s.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    for name in [
        "pagemill_pages_total{outcome=\"ok\"} 2",
        "pagemill_jobs{state=\"succeeded\"} 1",
        "pagemill_queue_depth 0",
        "pagemill_rss_bytes",
        "pagemill_peak_rss_bytes",
        "pagemill_upload_bytes_total",
        "pagemill_http_request_duration_seconds_bucket",
    ] {
        assert!(metrics.contains(name), "{name} in\n{metrics}");
    }
}

#[test]
fn the_openapi_document_matches_the_router() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let id = converted_page(&s);

    let doc = get_json(&s, "/openapi.json");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = Vec::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "delete", "put", "patch"].contains(&method.as_str()) {
                documented.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    // The contract other tools rely on is documented.
    for (m, p) in [
        ("POST", "/v1/jobs"),
        ("GET", "/v1/jobs"),
        ("GET", "/v1/jobs/{id}"),
        ("DELETE", "/v1/jobs/{id}"),
        ("GET", "/v1/jobs/{id}/events"),
        ("GET", "/v1/jobs/{id}/files"),
        ("GET", "/v1/jobs/{id}/files/{path}"),
        ("GET", "/v1/jobs/{id}/archive"),
        ("GET", "/metrics"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
    ] {
        assert!(
            documented.contains(&(m.to_string(), p.to_string())),
            "{m} {p} not documented"
        );
    }
    // Every documented route is served: never 405, and a 404 is the API's own (a JSON
    // error), not the router's "no such route". Deletion goes last.
    documented.sort_by_key(|(m, _)| m == "DELETE");
    for (method, path) in &documented {
        let url = s.url(
            &path
                .replace("{id}", &id)
                .replace("{path}", "camlidl-manual.md"),
        );
        let req = match method.as_str() {
            "GET" => client().get(&url),
            "POST" => client().post(&url),
            "DELETE" => client().delete(&url),
            other => panic!("undocumented method {other}"),
        };
        let res = req.send().unwrap();
        let status = res.status();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        if status == StatusCode::NOT_FOUND {
            let body: Value = res.json().unwrap_or(Value::Null);
            assert_eq!(body["error"], "not_found", "{method} {path} is not routed");
        } else {
            assert!(status.as_u16() < 500, "{method} {path}: {status}");
        }
    }
    // And a route that is not documented is not served.
    let res = client().get(s.url("/v1/undocumented")).send().unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[test]
fn convert_answers_with_the_markdown_or_the_job_to_follow() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let form = |pages: &str| {
        multipart::Form::new()
            .file("file", data("camlidl-manual.pdf"))
            .unwrap()
            .text("pages", pages.to_string())
            .text("format", "json")
    };
    // Waited for: the Markdown (asked or not) comes back.
    let res = client()
        .post(s.url("/v1/convert?wait=60s"))
        .multipart(form("1-2"))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"],
        "text/markdown; charset=utf-8"
    );
    let id = res.headers()["x-pagemill-job"]
        .to_str()
        .unwrap()
        .to_string();
    let md = res.text().unwrap();
    assert!(md.contains("Camlidl"), "{md}");
    let file = client()
        .get(s.url(&format!("/v1/jobs/{id}/files/camlidl-manual.md")))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(md, file);

    // Not waited for: 202 with the job to follow, which goes on.
    let res = client()
        .post(s.url("/v1/convert?wait=0s"))
        .multipart(form("1-8"))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let job: Value = res.json().unwrap();
    assert_eq!(
        location,
        format!("/v1/jobs/{}", job["id"].as_str().unwrap())
    );
    let evs = events(&s, job["id"].as_str().unwrap(), None);
    assert_eq!(evs.last().unwrap().1["state"], "succeeded");
}

#[test]
fn upscaling_and_text_removal_jobs_write_what_the_commands_write() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let stem = "kreuzberg_complex_document";
    let input = data(&format!("{stem}.png"));

    let job = upload(
        &s,
        &input,
        &[("upscale", "2"), ("upscale_model", "lanczos")],
    );
    let id = job["id"].as_str().unwrap().to_string();
    let evs = events(&s, &id, None);
    assert_eq!(evs.last().unwrap().1["state"], "succeeded");
    assert!(
        evs.iter().any(|e| e.1["event"] == "page_progress"),
        "the tiles' progress reaches the client"
    );
    assert_eq!(
        file_names(&s, &id),
        vec![format!("{stem}.upscale.json"), format!("{stem}.x2.png")]
    );
    let png = client()
        .get(s.url(&format!("/v1/jobs/{id}/files/{stem}.x2.png")))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let (w, h) = image::load_from_memory(&png)
        .map(|i| (i.width(), i.height()))
        .unwrap();
    assert_eq!((w, h), (1600, 1200));

    let job = upload(
        &s,
        &input,
        &[
            ("format", "erased"),
            ("upscale_output", "2"),
            ("upscale_model", "lanczos"),
        ],
    );
    let id = job["id"].as_str().unwrap().to_string();
    let evs = events(&s, &id, None);
    assert_eq!(evs.last().unwrap().1["state"], "succeeded");
    assert_eq!(
        file_names(&s, &id),
        vec![format!("{stem}.erased.json"), format!("{stem}.erased.png")]
    );

    // Upscaling before erasing needs the erasing.
    let (status, body) = common::server::post_job(&s, &input, &[("upscale_output", "2")]);
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("erase"), "{body}");
}
