//! The service's web page in a real browser: Debian's headless Chromium driven through
//! ChromeDriver (installed by `scripts/setup`). Upload a PDF, watch its pages come in,
//! read the rendered Markdown, download the zip.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::data;
use common::server::{add_key, Server};
use fantoccini::{ClientBuilder, Locator};
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// ChromeDriver on a free port; killed when dropped.
struct Driver(Child, u16);

impl Driver {
    fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (scripts/setup installs chromium-driver)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver(child, port)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn capabilities(profile: &Path, downloads: &Path) -> serde_json::Map<String, Value> {
    let caps = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                // A small /dev/shm (containers) would crash tabs; /tmp is used instead.
                "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": {
                "download.default_directory": downloads.display().to_string(),
                "download.prompt_for_download": false,
            },
        }
    });
    match caps {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// Waits for `cond` to hold, up to `secs`.
async fn wait_until<F, Fut>(secs: u64, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !cond().await {
        assert!(
            started.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// ChromeDriver and a headless Chromium session with its profile under `dir`, saving
/// downloads to `downloads`.
async fn browser(dir: &Path, downloads: &Path) -> (Driver, fantoccini::Client) {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        panic!("Chromium and ChromeDriver are needed: run scripts/setup");
    }
    let driver = Driver::start();
    std::fs::create_dir_all(downloads).unwrap();
    let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
    builder.capabilities(capabilities(&dir.join("profile"), downloads));
    let c = builder
        .connect(&format!("http://127.0.0.1:{}", driver.1))
        .await
        .expect("a Chromium session");
    (driver, c)
}

/// Chooses the bundled sample in the page's form, pages `pages`.
async fn choose_sample(c: &fantoccini::Client, pages: &str) {
    let pdf = data("camlidl-manual.pdf").canonicalize().unwrap();
    let files = c.find(Locator::Id("files")).await.unwrap();
    files.send_keys(&pdf.display().to_string()).await.unwrap();
    let field = c.find(Locator::Id("pages")).await.unwrap();
    field.send_keys(pages).await.unwrap();
}

/// Presses Convert and waits for the sample's Markdown in the preview.
async fn convert_and_wait(c: &fantoccini::Client) {
    c.find(Locator::Id("convert"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_until(120, "the Markdown preview", || async {
        let preview = c.find(Locator::Id("preview")).await.unwrap();
        preview.text().await.unwrap_or_default().contains("Camlidl")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_web_page_asks_for_the_api_key_and_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let key = add_key(&keys, "alice");
    let server = Server::start(
        &dir.path().join("data"),
        &["--api-keys", keys.to_str().unwrap()],
    );
    let (_driver, c) = browser(dir.path(), &dir.path().join("downloads")).await;
    c.goto(&server.url("/")).await.unwrap();
    // The jobs list is refused without a key: the page asks for one.
    wait_until(20, "the API key form", || async {
        c.execute(
            "return !document.getElementById('key-section').hidden;",
            vec![],
        )
        .await
        .unwrap()
            == json!(true)
    })
    .await;
    c.find(Locator::Id("api-key"))
        .await
        .unwrap()
        .send_keys(&key)
        .await
        .unwrap();
    c.find(Locator::Css("#key-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    choose_sample(&c, "1-2").await;
    convert_and_wait(&c).await;
    let hidden = c
        .execute(
            "return document.getElementById('key-section').hidden;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(hidden, json!(true), "the key was taken");
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_web_page_converts_a_pdf_and_downloads_the_zip() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let downloads = dir.path().join("downloads");
    let (_driver, c) = browser(dir.path(), &downloads).await;

    c.goto(&server.url("/")).await.unwrap();
    assert_eq!(c.title().await.unwrap(), "pagemill");
    // Every control has a label (keyboard and screen-reader users find them).
    let unlabelled = c
        .execute(
            "return [...document.querySelectorAll('input, select')]\
             .filter(e => !(e.labels && e.labels.length)).map(e => e.id || e.name);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(unlabelled, json!([]), "controls without a label");

    choose_sample(&c, "1-4").await;
    // Record every progress text the page shows, so each page's update is seen.
    // Each assignment of the text is its own mutation record, even when several pages
    // arrive in one network read and the observer is called once for all of them.
    c.execute(
        "window.seen = []; const el = document.getElementById('progress-text');\
         new MutationObserver(records => records.forEach(r =>\
           r.addedNodes.forEach(n => window.seen.push(n.textContent))))\
         .observe(el, {childList: true});",
        vec![],
    )
    .await
    .unwrap();
    convert_and_wait(&c).await;
    let state = c
        .find(Locator::Id("job-state"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(state, "succeeded");
    let seen = c.execute("return window.seen;", vec![]).await.unwrap();
    let seen: Vec<String> = serde_json::from_value(seen).unwrap();
    for n in 1..=4 {
        let prefix = format!("{n} of 4 pages");
        assert!(
            seen.iter().any(|s| s.starts_with(&prefix)),
            "{prefix} in {seen:?}"
        );
    }
    let heading = c
        .find(Locator::Css("#preview h2, #preview h3"))
        .await
        .unwrap();
    assert!(
        !heading.text().await.unwrap().is_empty(),
        "headings are rendered"
    );

    // The job is listed; the zip downloads.
    let jobs = c
        .find(Locator::Css("#jobs tbody"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        jobs.contains("camlidl-manual.pdf") && jobs.contains("succeeded"),
        "{jobs}"
    );
    c.find(Locator::Id("archive"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let mut zip = None;
    wait_until(30, "the zip download", || {
        zip = std::fs::read_dir(&downloads)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "zip"));
        let done = zip.is_some();
        async move { done }
    })
    .await;
    let zip = zip.unwrap();
    let listing = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))",
        ])
        .arg(&zip)
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&listing.stdout);
    assert!(
        names.contains("camlidl-manual.md") && names.contains("camlidl-manual.layouts.pdf"),
        "{names}"
    );
    c.close().await.unwrap();
}
