//! The scale-out tests' cluster: a real `nats-server` with JetStream (installed by
//! scripts/setup) on a free loopback port with its own store directory, and
//! `pagemill worker` hosts pointed at it. Everything is killed when dropped.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::llm::free_port;

/// A running nats-server.
pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
    pub url: String,
    store: PathBuf,
    config: Option<PathBuf>,
}

impl NatsServer {
    /// Starts `nats-server -js` with its store in `dir`.
    pub fn start(dir: &Path) -> NatsServer {
        Self::start_with(dir, None)
    }

    /// Starts it with a configuration file (authorization, say) holding `extra`.
    pub fn start_with(dir: &Path, extra: Option<&str>) -> NatsServer {
        let port = free_port();
        let store = dir.join("jetstream");
        let config = extra.map(|text| {
            let p = dir.join("nats.conf");
            std::fs::write(&p, text).unwrap();
            p
        });
        let mut s = NatsServer {
            child: None,
            port,
            url: format!("nats://127.0.0.1:{port}"),
            store,
            config,
        };
        s.launch();
        s
    }

    fn launch(&mut self) {
        let mut cmd = Command::new("nats-server");
        if let Some(c) = &self.config {
            cmd.args(["-c", c.to_str().unwrap()]);
        }
        cmd.args([
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-sd",
        ])
        .arg(&self.store)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let child = cmd
            .spawn()
            .expect("nats-server (scripts/setup installs it)");
        self.child = Some(child);
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "nats-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (SIGTERM: JetStream flushes its store) and starts it again on
    /// the same port and store.
    pub fn restart(&mut self, down_for: Duration) {
        self.stop();
        std::thread::sleep(down_for);
        self.launch();
    }

    /// Stops the server (SIGTERM).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            terminate(&c);
            let _ = c.wait();
        }
    }
}

/// SIGTERM through `kill`, so the tests need no libc.
fn terminate(c: &Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &c.id().to_string()])
        .status();
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A `pagemill worker` host.
pub struct Host {
    pub child: Child,
    pub log: PathBuf,
}

impl Host {
    /// Starts `pagemill worker --nats URL --jobs 1 --name NAME EXTRA…`, logging to a file
    /// in `dir`.
    pub fn start(url: &str, dir: &Path, name: &str, extra: &[&str]) -> Host {
        let log = dir.join(format!("{name}.log"));
        let f = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_pagemill"))
            .args(["worker", "--nats", url, "--jobs", "1", "--name", name])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(f)
            .spawn()
            .expect("run pagemill worker");
        Host { child, log }
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Asks it to stop (SIGTERM: it drains).
    pub fn terminate(&self) {
        terminate(&self.child);
    }

    /// Kills it with SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits (up to `limit`) for it to exit; its status.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            if start.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
