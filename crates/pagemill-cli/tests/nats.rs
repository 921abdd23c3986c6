//! Scale-out over NATS JetStream, end to end against a real `nats-server`: outputs through
//! worker hosts equal a local run's byte for byte, and no page is lost or doubled when a
//! host is killed mid-page or the server restarts mid-job; a page that takes down every
//! host it reaches is recorded failed after the delivery limit while the rest completes;
//! a host without the server's credentials is refused; a `serve --nats` that dies has its
//! jobs taken up by another service.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::nats::{Host, NatsServer};
use common::{assert_same_tree, convert, data};
use serde_json::Value;

/// Fast failure detection for the tests: a silent host loses its tasks after 2 s.
const ACK_WAIT: &str = "2";

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `convert` through NATS, started in the background with JSON progress on stdout.
fn convert_nats(url: &str, inputs: &[PathBuf], out: &Path, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pagemill"))
        .arg("convert")
        .args(inputs)
        .args(["-o", out.to_str().unwrap(), "--jobs", "2", "--nats", url])
        .args(["--progress", "json"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pagemill convert --nats")
}

/// Reads progress events until `n` pages are done; returns the reader for the rest.
fn wait_for_pages(child: &mut Child, n: usize) -> impl Iterator<Item = Value> {
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<Value>(&l).ok());
    let mut done = 0;
    while done < n {
        let Some(ev) = lines.next() else { break };
        if ev["event"] == "page" {
            done += 1;
        }
    }
    lines
}

/// Waits for the convert to end; its exit code and last (summary) event.
fn finish(mut child: Child, rest: impl Iterator<Item = Value>) -> (i32, Value) {
    let summary = rest
        .filter(|e| e["event"] == "summary")
        .last()
        .unwrap_or(Value::Null);
    let status = child.wait().unwrap();
    if !status.success() {
        let mut err = String::new();
        use std::io::Read;
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        eprintln!("convert --nats: {err}");
    }
    (status.code().unwrap_or(-1), summary)
}

/// The same conversion with local workers, for comparison.
fn local_run(inputs: &[PathBuf], out: &Path, extra: &[&str]) {
    let o = convert(inputs, out, extra);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn pages_through_two_hosts_match_a_local_run_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path());
    let _a = Host::start(&server.url, dir.path(), "a", &[]);
    let _b = Host::start(&server.url, dir.path(), "b", &[]);
    let inputs = [
        data("docling_multi_page.pdf"),
        data("R-refman_p133-138.pdf"),
        data("ocrmypdf_linn.pdf"),
        data("kreuzberg_complex_document.png"),
    ];
    let formats = ["--format", "md,json,det,layouts,searchable,images"];
    let (remote, local) = (dir.path().join("remote"), dir.path().join("local"));
    let mut child = convert_nats(&server.url, &inputs, &remote, &formats);
    let rest = wait_for_pages(&mut child, 0);
    let (code, summary) = finish(child, rest);
    assert_eq!(code, 0);
    assert_eq!(summary["pages_failed"], 0);
    local_run(&inputs, &local, &formats);
    assert_same_tree(&local, &remote, "from the local run");
}

#[test]
fn a_host_killed_mid_page_loses_nothing_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path());
    let hosts = ["--nats-ack-wait", ACK_WAIT];
    let mut a = Host::start(&server.url, dir.path(), "a", &hosts);
    let input = [data("R-refman_p133-138.pdf")];
    // OCR makes each page take about a second: the kill lands mid-page.
    let extra = ["--ocr", "always", "--format", "md,json"];
    let remote = dir.path().join("remote");
    let mut child = convert_nats(&server.url, &input, &remote, &extra);
    let rest = wait_for_pages(&mut child, 1);
    a.kill();
    let _b = Host::start(&server.url, dir.path(), "b", &hosts);
    let (code, summary) = finish(child, rest);
    assert_eq!(code, 0);
    assert_eq!(summary["pages_ok"], 6);
    let local = dir.path().join("local");
    local_run(&input, &local, &extra);
    assert_same_tree(&local, &remote, "from the local run");
}

#[test]
fn a_server_restart_mid_job_loses_nothing_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = NatsServer::start(dir.path());
    let _a = Host::start(&server.url, dir.path(), "a", &["--nats-ack-wait", ACK_WAIT]);
    let input = [data("R-refman_p133-138.pdf")];
    let extra = ["--ocr", "always", "--format", "md,json"];
    let remote = dir.path().join("remote");
    let mut child = convert_nats(&server.url, &input, &remote, &extra);
    let rest = wait_for_pages(&mut child, 2);
    server.restart(Duration::from_secs(1));
    let (code, summary) = finish(child, rest);
    assert_eq!(code, 0);
    assert_eq!(summary["pages_ok"], 6);
    let local = dir.path().join("local");
    local_run(&input, &local, &extra);
    assert_same_tree(&local, &remote, "from the local run");
}

#[test]
fn a_page_that_takes_down_every_host_fails_after_the_delivery_limit() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path());
    // Every host dies on taking page 2; a new one replaces each that dies.
    let hosts = [
        "--nats-ack-wait",
        ACK_WAIT,
        "--nats-max-deliver",
        "2",
        "--abort-on-page",
        "2",
    ];
    let mut running: Vec<Host> = (0..2)
        .map(|i| Host::start(&server.url, dir.path(), &format!("h{i}"), &hosts))
        .collect();
    let input = [data("R-refman_p133-138.pdf")];
    let extra = ["--ocr", "always", "--format", "md"];
    let remote = dir.path().join("remote");
    let child = convert_nats(&server.url, &input, &remote, &extra);
    // Set once the convert has ended, so that a convert that fails early fails the test
    // rather than leave the watcher waiting for deaths that never come.
    let ended = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = std::thread::spawn({
        let url = server.url.clone();
        let dir = dir.path().to_path_buf();
        let ended = std::sync::Arc::clone(&ended);
        move || {
            let mut started = running.len();
            let mut died = 0;
            while died < 2 && !ended.load(std::sync::atomic::Ordering::Relaxed) {
                for h in running.iter_mut() {
                    if matches!(h.child.try_wait(), Ok(Some(_))) {
                        died += 1;
                        started += 1;
                        *h = Host::start(&url, &dir, &format!("h{started}"), &hosts);
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            running
        }
    });
    let mut child = child;
    let rest = wait_for_pages(&mut child, 0);
    let (code, summary) = finish(child, rest);
    ended.store(true, std::sync::atomic::Ordering::Relaxed);
    let hosts = watcher.join().unwrap();
    let logs: Vec<String> = hosts.iter().map(Host::log).collect();
    assert_eq!(code, 3, "partial: one page failed; hosts: {logs:#?}");
    assert_eq!(summary["pages_ok"], 5);
    assert_eq!(summary["pages_failed"], 1);
    let md =
        std::fs::read_to_string(remote.join("R-refman_p133-138/R-refman_p133-138.md")).unwrap();
    assert!(md.contains("delivered 2 times"), "{md}");
}

#[test]
fn a_host_without_the_servers_credentials_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let token = "t0ken-for-the-test";
    let server = NatsServer::start_with(
        dir.path(),
        Some(&format!("authorization {{ token: \"{token}\" }}\n")),
    );
    let mut stranger = Host::start(&server.url, dir.path(), "stranger", &[]);
    let status = stranger
        .wait_exit(Duration::from_secs(20))
        .expect("a refused host exits");
    assert!(!status.success());
    assert!(stranger.log().contains("refused"), "{}", stranger.log());

    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let creds = ["--nats-token-file", token_file.to_str().unwrap()];
    let member = Host::start(&server.url, dir.path(), "member", &creds);
    let out = dir.path().join("out");
    let mut child = convert_nats(&server.url, &[data("docling_multi_page.pdf")], &out, &creds);
    let rest = wait_for_pages(&mut child, 0);
    let (code, _) = finish(child, rest);
    assert_eq!(code, 0);
    assert!(
        !member.log().contains(token),
        "the token must not be logged"
    );
}

#[test]
fn the_service_sends_its_pages_to_worker_hosts_and_writes_what_a_local_service_writes() {
    use common::server::{client, events, file_names, upload, Server};
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(dir.path());
    let _a = Host::start(&nats.url, dir.path(), "a", &[]);
    let remote = Server::start(&dir.path().join("remote"), &["--nats", &nats.url]);
    let local = Server::start(&dir.path().join("local"), &[]);
    let input = data("camlidl-manual.pdf");
    let fields = [("pages", "1-6"), ("format", "md,json")];
    let files = |s: &Server| {
        let id = upload(s, &input, &fields)["id"]
            .as_str()
            .unwrap()
            .to_string();
        let evs = events(s, &id, None);
        assert_eq!(evs.last().unwrap().1["state"], "succeeded");
        file_names(s, &id)
            .into_iter()
            .map(|name| {
                let url = s.url(&format!("/v1/jobs/{id}/files/{name}"));
                let bytes = client().get(url).send().unwrap().bytes().unwrap();
                (name, bytes.to_vec())
            })
            .collect::<Vec<_>>()
    };
    let (r, l) = (files(&remote), files(&local));
    assert_eq!(
        r.len(),
        2,
        "md and json: {:?}",
        r.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert!(r == l, "the files differ from the local service's");
}

#[test]
fn a_service_that_dies_has_its_job_taken_up_by_another_and_gets_it_not_back() {
    use common::server::{client, file_names, upload, Server};
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(dir.path());
    let _a = Host::start(&nats.url, dir.path(), "a", &["--nats-ack-wait", ACK_WAIT]);
    let with_nats = ["--nats", nats.url.as_str()];
    let (first_dir, second_dir) = (dir.path().join("first"), dir.path().join("second"));
    let mut first = Server::start(&first_dir, &with_nats);
    let input = data("R-refman_p133-138.pdf");
    let fields = [("ocr", "always"), ("format", "md,json")];
    let id = upload(&first, &input, &fields)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let job = format!("/v1/jobs/{id}");
    let state = |s: &Server| -> Option<Value> {
        let res = client().get(s.url(&job)).send().unwrap();
        res.status().is_success().then(|| res.json().unwrap())
    };
    let until = |what: &str, s: &Server, ok: &dyn Fn(&Value) -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            if state(s).is_some_and(|v| ok(&v)) {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    until("the job starts", &first, &|v| v["state"] == "running");
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    // Another service, on its own data directory, takes the job up once the first one's
    // heartbeat has stood still for the lease (10 s), and converts it to its end.
    let second = Server::start(&second_dir, &with_nats);
    until("the job ends on the second service", &second, &|v| {
        v["state"] == "succeeded"
    });
    let local = dir.path().join("local");
    local_run(
        std::slice::from_ref(&input),
        &local,
        &["--ocr", "always", "--format", "md,json"],
    );
    let names = file_names(&second, &id);
    assert_eq!(names.len(), 2, "{names:?}");
    for name in names {
        let url = second.url(&format!("{job}/files/{name}"));
        let got = client().get(url).send().unwrap().bytes().unwrap().to_vec();
        let want = std::fs::read(local.join("R-refman_p133-138").join(&name)).unwrap();
        if name.ends_with(".json") {
            // The service names its input by its file name; a local run, by its path.
            let mut want: Value = serde_json::from_slice(&want).unwrap();
            want["source"] = "R-refman_p133-138.pdf".into();
            assert_eq!(serde_json::from_slice::<Value>(&got).unwrap(), want);
        } else {
            assert!(got == want, "{name} differs from the local run's");
        }
    }

    // The first service, back on its data directory, finds the job taken and drops it
    // rather than run it a second time.
    drop(first);
    let first = Server::start(&first_dir, &with_nats);
    assert!(
        state(&first).is_none(),
        "the job is dropped where it was lost"
    );
    assert!(!first_dir.join("jobs").join(&id).exists());
    assert_eq!(state(&second).unwrap()["state"], "succeeded");
}

/// Makes a CA and a certificate for 127.0.0.1 signed by it in `dir` (with `openssl`);
/// returns (CA, certificate, key).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let o = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl (scripts/setup installs it)");
        assert!(o.status.success(), "openssl {args:?}: {}", stderr(&o));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-out",
        "server.pem",
        "-extfile",
        "ext.cnf",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

#[test]
fn hosts_and_producers_speak_tls_when_the_server_requires_it() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let server = NatsServer::start_with(
        dir.path(),
        Some(&format!(
            "tls {{ cert_file: \"{}\", key_file: \"{}\" }}\n",
            cert.display(),
            key.display()
        )),
    );
    let tls_url = server.url.replace("nats://", "tls://");
    // Without the CA, the server's certificate cannot be trusted.
    let mut stranger = Host::start(&tls_url, dir.path(), "stranger", &[]);
    let status = stranger
        .wait_exit(Duration::from_secs(20))
        .expect("a host that cannot verify the server exits");
    assert!(!status.success(), "{}", stranger.log());

    let ca_arg = ["--nats-ca", ca.to_str().unwrap()];
    let _member = Host::start(&tls_url, dir.path(), "member", &ca_arg);
    let out = dir.path().join("out");
    let mut child = convert_nats(&tls_url, &[data("docling_multi_page.pdf")], &out, &ca_arg);
    let rest = wait_for_pages(&mut child, 0);
    let (code, summary) = finish(child, rest);
    assert_eq!(code, 0);
    assert_eq!(summary["pages_ok"], 5);
}

#[test]
fn a_host_drains_on_sigterm_and_another_finishes_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path());
    let hosts = ["--nats-ack-wait", ACK_WAIT];
    let mut a = Host::start(&server.url, dir.path(), "a", &hosts);
    let input = [data("R-refman_p133-138.pdf")];
    let extra = ["--ocr", "always", "--format", "md"];
    let out = dir.path().join("out");
    let mut child = convert_nats(&server.url, &input, &out, &extra);
    let rest = wait_for_pages(&mut child, 1);
    a.terminate();
    let status = a
        .wait_exit(Duration::from_secs(60))
        .expect("a draining host exits once its pages are done");
    assert!(status.success(), "{}", a.log());
    assert!(a.log().contains("stopping"), "{}", a.log());
    let _b = Host::start(&server.url, dir.path(), "b", &hosts);
    let (code, summary) = finish(child, rest);
    assert_eq!(code, 0);
    assert_eq!(summary["pages_ok"], 6);
}

#[test]
fn a_host_stopped_after_its_server_went_away_still_ends() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = NatsServer::start(dir.path());
    let mut host = Host::start(&server.url, dir.path(), "a", &[]);
    let start = std::time::Instant::now();
    while !host.log().contains("worker host ready") {
        assert!(start.elapsed() < Duration::from_secs(30), "{}", host.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    server.stop();
    host.terminate();
    // It holds no task: it ends at once, not after waiting for a server that is gone.
    let status = host
        .wait_exit(Duration::from_secs(20))
        .expect("a stopped host ends without its server");
    assert!(status.success(), "{}", host.log());
}

#[test]
fn upscaled_pages_come_back_from_the_hosts_as_files() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path());
    let _a = Host::start(&server.url, dir.path(), "a", &[]);
    let input = data("kreuzberg_complex_document.png");
    let run = |out: &Path, nats: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pagemill"));
        cmd.args([
            "upscale",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .args(["--model", "lanczos", "--quiet"]);
        if nats {
            cmd.args(["--nats", &server.url]);
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let stem = "kreuzberg_complex_document";
        std::fs::read(out.join(stem).join(format!("{stem}.x2.png"))).unwrap()
    };
    let remote = run(&dir.path().join("remote"), true);
    let local = run(&dir.path().join("local"), false);
    assert!(
        remote == local,
        "the upscaled picture differs from the local run's"
    );
    assert!(!dir
        .path()
        .join("remote/kreuzberg_complex_document/.pagemill-upscaled")
        .exists());
}
