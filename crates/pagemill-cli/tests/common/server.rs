//! A `pagemill serve` process for the service's tests.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::blocking::{multipart, Client};
use reqwest::StatusCode;
use serde_json::Value;

/// A running server; killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pagemill"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--jobs",
                "2",
                "--data-dir",
            ])
            .arg(data_dir)
            .args(extra)
            // Warnings only: the service's info lines would drown the test output.
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start pagemill serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Server {
            child,
            base: format!("http://{addr}"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// Posts `file` with `fields` to `/v1/jobs`: the status and the JSON answer.
pub fn post_job(s: &Server, file: &Path, fields: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut form = multipart::Form::new().file("file", file).unwrap();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    let res = client()
        .post(s.url("/v1/jobs"))
        .multipart(form)
        .send()
        .unwrap();
    let status = res.status();
    (status, res.json().unwrap_or(Value::Null))
}

/// Uploads `file` with `fields`; returns the 202 answer.
pub fn upload(s: &Server, file: &Path, fields: &[(&str, &str)]) -> Value {
    let (status, body) = post_job(s, file, fields);
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body
}

/// The names of a job's result files (`GET /v1/jobs/{id}/files`).
pub fn file_names(s: &Server, id: &str) -> Vec<String> {
    get_json(s, &format!("/v1/jobs/{id}/files"))["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect()
}

/// The job's SSE events from `after`, until the stream ends (the job's end), as
/// `(id, event)`.
pub fn events(s: &Server, id: &str, after: Option<u64>) -> Vec<(u64, Value)> {
    let mut req = client().get(s.url(&format!("/v1/jobs/{id}/events")));
    if let Some(a) = after {
        req = req.header("Last-Event-ID", a.to_string());
    }
    let res = req.send().unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut out = Vec::new();
    let mut seq = 0;
    for line in BufReader::new(res).lines() {
        let line = line.unwrap();
        if let Some(v) = line.strip_prefix("id: ") {
            seq = v.parse().unwrap();
        } else if let Some(v) = line.strip_prefix("data: ") {
            out.push((seq, serde_json::from_str(v).unwrap()));
        }
    }
    out
}

pub fn get_json(s: &Server, path: &str) -> Value {
    let res = client().get(s.url(path)).send().unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.json().unwrap()
}

/// Makes an API key named `name` in `file` with `pagemill serve keys add`; returns it.
pub fn add_key(file: &Path, name: &str) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_pagemill"))
        .args(["serve", "keys", "add", name, "--api-keys"])
        .arg(file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

/// Converts page 1 of the sample to Markdown as a job, to its end; returns the job's id.
pub fn converted_page(s: &Server) -> String {
    let job = upload(
        s,
        &crate::common::data("camlidl-manual.pdf"),
        &[("pages", "1"), ("format", "md")],
    );
    let id = job["id"].as_str().unwrap().to_string();
    assert_eq!(events(s, &id, None).last().unwrap().1["state"], "succeeded");
    id
}
