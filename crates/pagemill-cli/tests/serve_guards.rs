//! `pagemill serve` end to end, what guards it: upload limits, a full queue or disk, API
//! keys, CORS, retention, and stops (SIGTERM, kill -9) with the restart that follows.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::server::{add_key, client, converted_page, events, get_json, upload, Server};
use common::{data, read};
use reqwest::blocking::multipart;
use reqwest::StatusCode;
use serde_json::Value;

/// The status of `GET path`.
fn status(s: &Server, path: &str) -> StatusCode {
    client().get(s.url(path)).send().unwrap().status()
}

/// Sends `head` (request line and headers) and reads the answer's status line without
/// sending any body.
fn status_before_body(s: &Server, head: &str) -> String {
    let mut tcp = TcpStream::connect(s.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.write_all(head.as_bytes()).unwrap();
    let mut buf = [0u8; 256];
    let n = tcp.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
fn limits_and_bad_requests_get_their_status() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--max-upload-size", "1MB"]);

    // 413 from the Content-Length alone: the body is never sent.
    let line = status_before_body(
        &s,
        "POST /v1/jobs?filename=a.pdf HTTP/1.1\r\nHost: x\r\nContent-Type: application/pdf\r\nContent-Length: 60000000\r\n\r\n",
    );
    assert!(line.contains(" 413 "), "{line}");

    // 413 for a chunked body as soon as it passes the limit: the client keeps sending
    // (from another thread) while the answer comes back.
    let mut tcp = TcpStream::connect(s.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    tcp.write_all(
        b"POST /v1/jobs?filename=a.pdf HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .unwrap();
    let mut writer = tcp.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let chunk = [b'x'; 65536];
        let mut sent = 0u64;
        while sent < (16 << 20) {
            let ok = writer.write_all(b"10000\r\n").is_ok()
                && writer.write_all(&chunk).is_ok()
                && writer.write_all(b"\r\n").is_ok();
            if !ok {
                break;
            }
            sent += chunk.len() as u64;
        }
        sent
    });
    let mut buf = [0u8; 256];
    let n = tcp.read(&mut buf).unwrap();
    let line = String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    assert!(line.contains(" 413 "), "{line}");
    drop(tcp);
    let sent = sender.join().unwrap();
    assert!(
        sent < 16 << 20,
        "the server stopped reading: {sent} bytes went out"
    );

    // Unknown options are named.
    let form = multipart::Form::new()
        .file("file", data("camlidl-manual.pdf"))
        .unwrap()
        .text("colour", "red");
    let res = client()
        .post(s.url("/v1/jobs"))
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().unwrap().contains("colour"));

    // No file.
    let form = multipart::Form::new().text("pages", "1");
    let res = client()
        .post(s.url("/v1/jobs"))
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // Nothing half-received is left behind.
    assert_eq!(
        std::fs::read_dir(dir.path().join("uploads"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("jobs")).unwrap().count(),
        0
    );

    // A raw body with a hostile name: kept under a safe one.
    let res = client()
        .post(s.url("/v1/jobs?filename=..%2F..%2Fevil.pdf&pages=1&format=md"))
        .header("Content-Type", "application/pdf")
        .body(std::fs::read(data("camlidl-manual.pdf")).unwrap())
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job: Value = res.json().unwrap();
    assert_eq!(job["files"][0], "evil.pdf");
    let id = job["id"].as_str().unwrap();
    let evs = events(&s, id, None);
    assert_eq!(evs.last().unwrap().1["state"], "succeeded");

    // Paths out of the job's outputs are refused.
    for bad in [
        "..%2F..%2Fpagemill.db",
        "..%2Finput%2Fevil.pdf",
        "%2Fetc%2Fpasswd",
        ".pagemill-resume",
    ] {
        let res = client()
            .get(s.url(&format!("/v1/jobs/{id}/files/{bad}")))
            .send()
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{bad}");
    }
    let res = client().get(s.url("/v1/jobs/nope")).send().unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(status(&s, "/healthz"), StatusCode::OK);
    assert_eq!(status(&s, "/readyz"), StatusCode::OK);
}

#[test]
fn a_full_queue_gets_429_and_short_disk_507() {
    let dir = tempfile::tempdir().unwrap();
    // One job runs (OCR of every page: seconds), one waits; the next is refused.
    let s = Server::start(
        dir.path(),
        &["--max-running-jobs", "1", "--max-queued-jobs", "1"],
    );
    let slow = [("pages", "1-3"), ("format", "md"), ("ocr", "always")];
    let first = upload(&s, &data("camlidl-manual.pdf"), &slow);
    let id = first["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    while get_json(&s, &format!("/v1/jobs/{id}"))["state"] == "queued" {
        assert!(started.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(50));
    }
    upload(&s, &data("camlidl-manual.pdf"), &slow);
    // (Refused before the body is read: a request without one shows it best, since a
    // client still sending a body may see the connection close before the answer.)
    let res = client()
        .post(s.url("/v1/jobs?filename=a.pdf"))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    drop(s);

    // A floor above any real disk: every upload is refused, and /readyz says why.
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--min-free-disk", "1000000GB"]);
    let res = client()
        .post(s.url("/v1/jobs?filename=a.pdf"))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::INSUFFICIENT_STORAGE);
    let res = client().get(s.url("/readyz")).send().unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.json::<Value>().unwrap()["disk_ok"], false);
}

#[test]
fn each_api_key_sees_only_its_own_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let (alice, bob) = (add_key(&keys, "alice"), add_key(&keys, "bob"));
    assert!(
        !std::fs::read_to_string(&keys).unwrap().contains(&alice),
        "only hashes are kept"
    );
    let data_dir = dir.path().join("data");
    let s = Server::start(&data_dir, &["--api-keys", keys.to_str().unwrap()]);

    // Without a key, or with a wrong one: 401.
    let form = || {
        multipart::Form::new()
            .file("file", data("camlidl-manual.pdf"))
            .unwrap()
            .text("pages", "1")
            .text("format", "md")
    };
    // (No body: the 401 is sent before any is read, and a client still sending a body
    // may see the connection close before it reads the answer.)
    let res = client()
        .post(s.url("/v1/jobs?filename=a.pdf"))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = client()
        .get(s.url("/v1/jobs"))
        .bearer_auth("pm_wrong")
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let res = client()
        .post(s.url("/v1/jobs"))
        .bearer_auth(&alice)
        .multipart(form())
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let id = res.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let get = |key: &str, path: &str| client().get(s.url(path)).bearer_auth(key).send().unwrap();
    assert_eq!(
        get(&alice, &format!("/v1/jobs/{id}")).status(),
        StatusCode::OK
    );
    for path in [
        "",
        "/events",
        "/files",
        "/files/camlidl-manual.md",
        "/archive",
    ] {
        let res = get(&bob, &format!("/v1/jobs/{id}{path}"));
        assert_eq!(
            res.status(),
            StatusCode::NOT_FOUND,
            "bob reads alice's job{path}"
        );
    }
    let res = client()
        .delete(s.url(&format!("/v1/jobs/{id}")))
        .bearer_auth(&bob)
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let bobs: Value = get(&bob, "/v1/jobs").json().unwrap();
    assert_eq!(bobs["jobs"].as_array().unwrap().len(), 0);
    let alices: Value = get(&alice, "/v1/jobs").json().unwrap();
    assert_eq!(alices["jobs"][0]["id"], id.as_str());
    // Health and metrics need no key.
    assert_eq!(status(&s, "/healthz"), StatusCode::OK);
    assert_eq!(status(&s, "/metrics"), StatusCode::OK);
}

#[test]
fn a_non_loopback_address_needs_keys() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_pagemill"))
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--api-keys") && err.contains("--insecure-no-auth"),
        "{err}"
    );
}

#[test]
fn cors_is_off_unless_origins_are_given() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let res = client()
        .get(s.url("/v1/jobs"))
        .header("Origin", "https://elsewhere.example")
        .send()
        .unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
    drop(s);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--cors-origin", "https://app.example"]);
    let res = client()
        .request(reqwest::Method::OPTIONS, s.url("/v1/jobs"))
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example"
    );
}

#[test]
fn finished_jobs_are_removed_after_the_retention() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--retention", "1s"]);
    let id = converted_page(&s);
    let started = Instant::now();
    loop {
        let res = client()
            .get(s.url(&format!("/v1/jobs/{id}")))
            .send()
            .unwrap();
        if res.status() == StatusCode::NOT_FOUND {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "not swept");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        !dir.path().join("jobs").join(&id).exists(),
        "its files are gone too"
    );
}

#[test]
fn a_killed_server_resumes_its_job_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--max-running-jobs", "1"];
    let mut s = Server::start(dir.path(), &args);
    // OCR of every page (about a second each): the job is mid-way when the server dies.
    let fields = [("pages", "1-6"), ("format", "md,json"), ("ocr", "always")];
    let job = upload(&s, &data("camlidl-manual.pdf"), &fields);
    let id = job["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    loop {
        let st = get_json(&s, &format!("/v1/jobs/{id}"));
        if st["pages"]["done"].as_u64().unwrap_or(0) >= 2 {
            break;
        }
        assert!(
            st["state"] != "succeeded",
            "finished before it could be killed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no progress: {st}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = s.child.kill(); // SIGKILL: no graceful stop
    let _ = s.child.wait();
    drop(s);

    let s = Server::start(dir.path(), &args);
    let evs = events(&s, &id, None);
    assert_eq!(evs.last().unwrap().1["state"], "succeeded", "{evs:?}");
    let st = get_json(&s, &format!("/v1/jobs/{id}"));
    assert_eq!(st["pages"]["done"], 6, "{st}");

    // The same run by the CLI, naming the input as the service does (by its file name).
    let cli = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_pagemill"))
        .current_dir(data("."))
        .args([
            "convert",
            "camlidl-manual.pdf",
            "--pages",
            "1-6",
            "--format",
            "md,json",
        ])
        .args(["--ocr", "always", "--jobs", "2", "-o"])
        .arg(cli.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for name in ["camlidl-manual.md", "camlidl-manual.json"] {
        let got = client()
            .get(s.url(&format!("/v1/jobs/{id}/files/{name}")))
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert_eq!(
            got,
            read(cli.path().join("camlidl-manual").join(name)),
            "{name}"
        );
    }
}

#[test]
fn sigterm_stops_gracefully_and_the_job_goes_on_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(dir.path(), &[]);
    let fields = [("pages", "1-5"), ("format", "md"), ("ocr", "always")];
    let job = upload(&s, &data("camlidl-manual.pdf"), &fields);
    let id = job["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    while get_json(&s, &format!("/v1/jobs/{id}"))["pages"]["done"]
        .as_u64()
        .unwrap_or(0)
        < 1
    {
        assert!(started.elapsed() < Duration::from_secs(120), "no progress");
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(s.child.id() as i32, libc::SIGTERM) };
    let stopping = Instant::now();
    let status = s.child.wait().unwrap();
    assert!(status.success(), "a graceful stop exits 0: {status:?}");
    assert!(
        stopping.elapsed() < Duration::from_secs(30),
        "it stops within seconds"
    );
    drop(s);

    let s = Server::start(dir.path(), &[]);
    let evs = events(&s, &id, None);
    assert_eq!(evs.last().unwrap().1["state"], "succeeded");
    assert_eq!(get_json(&s, &format!("/v1/jobs/{id}"))["pages"]["done"], 5);
}
