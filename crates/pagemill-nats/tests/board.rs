//! The job board against a real `nats-server` (scripts/setup installs it): a dead
//! service's job is taken up by exactly one of two services looking, with its upload;
//! the dead service, back, learns it lost the job; a closed job's upload is deleted.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pagemill_nats::board::LEASE;
use pagemill_nats::{BoardError, JobBoard, NatsOptions};
use serde_json::json;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn nats_server(dir: &std::path::Path) -> (Server, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("nats-server")
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server (scripts/setup installs it)");
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "no nats-server");
        std::thread::sleep(Duration::from_millis(20));
    }
    (Server(child), format!("nats://127.0.0.1:{port}"))
}

/// Whether the uploads bucket still holds `name`.
fn upload_exists(url: &str, name: &str) -> bool {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(url).await.unwrap());
        let bucket = js.get_object_store("pagemill_uploads").await.unwrap();
        bucket.info(name).await.is_ok_and(|i| !i.deleted)
    })
}

#[test]
fn a_dead_services_job_goes_to_one_taker_and_not_back() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = nats_server(&dir.path().join("js"));
    let options = NatsOptions::new(url.clone());
    let upload = dir.path().join("scan.pdf");
    std::fs::write(&upload, b"%PDF-1.7 the bytes of an upload").unwrap();

    let dead = JobBoard::connect(&options, "dead").unwrap();
    dead.heartbeat().unwrap();
    dead.post("j1", json!({"id": "j1"}), std::slice::from_ref(&upload))
        .unwrap();
    assert!(upload_exists(&url, "j1/0"));

    let (b, c) = (
        JobBoard::connect(&options, "b").unwrap(),
        JobBoard::connect(&options, "c").unwrap(),
    );
    for board in [&b, &c] {
        board.heartbeat().unwrap();
        assert!(
            board.orphans().unwrap().is_empty(),
            "no orphan at first look"
        );
    }
    std::thread::sleep(LEASE + Duration::from_millis(300));
    let (ob, oc) = (b.orphans().unwrap(), c.orphans().unwrap());
    assert_eq!(ob.len(), 1);
    assert_eq!((ob[0].id.as_str(), ob[0].from.as_str()), ("j1", "dead"));
    let got = dir.path().join("b").join("scan.pdf");
    assert!(b.claim(&ob[0], std::slice::from_ref(&got)).unwrap());
    assert_eq!(
        std::fs::read(&got).unwrap(),
        std::fs::read(&upload).unwrap()
    );
    let lost = dir.path().join("c").join("scan.pdf");
    assert!(
        !c.claim(&oc[0], std::slice::from_ref(&lost)).unwrap(),
        "one taker only"
    );
    assert!(!lost.exists());

    match dead.update("j1", json!({"id": "j1"}), true, 1) {
        Err(BoardError::Taken { by, .. }) => assert_eq!(by, "b"),
        other => panic!("the dead service must learn it lost the job: {other:?}"),
    }
    b.update("j1", json!({"id": "j1", "state": "succeeded"}), false, 1)
        .unwrap();
    assert!(
        !upload_exists(&url, "j1/0"),
        "a closed job's upload is deleted"
    );
    b.forget("j1", 1);
    assert!(b.orphans().unwrap().is_empty());
}
