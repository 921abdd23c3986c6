//! The LLM side of the extraction tests: the real `llama-server` that `scripts/setup`
//! built (with SmolLM2-135M), and a small misbehaving HTTP proxy in front of it that
//! injects faults — errors, 429s with Retry-After, slowness, dropped connections, answers
//! that do not match — and forwards everything else to the real server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// pagemill's data directory, as scripts/setup uses it.
fn data_dir() -> PathBuf {
    std::env::var_os("PAGEMILL_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".local/share/pagemill")
        })
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running llama-server; killed when dropped.
pub struct Llama {
    child: Child,
    pub url: String,
}

impl Llama {
    /// Starts llama-server with the SmolLM2 model on a free port, requiring `api_key`
    /// when given; waits until it is ready.
    pub fn start(api_key: Option<&str>) -> Llama {
        let home = data_dir();
        let bin = home.join("llama/11434.0.0/llama-server");
        let model = home.join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
        assert!(
            bin.is_file() && model.is_file(),
            "run scripts/setup: {} / {}",
            bin.display(),
            model.display()
        );
        let port = free_port();
        let mut cmd = Command::new(bin);
        cmd.args(["-m"])
            .arg(&model)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            // Two slots of 4,096 tokens: --llm-concurrency 2 runs in parallel.
            .args(["-c", "8192", "-np", "2", "-t", "2", "--log-disable"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(key) = api_key {
            // The key travels in the environment, never in the argument list.
            cmd.env("LLAMA_API_KEY", key);
        }
        let child = cmd.spawn().expect("start llama-server");
        let llama = Llama {
            child,
            url: format!("http://127.0.0.1:{port}/v1"),
        };
        let health = format!("http://127.0.0.1:{port}/health");
        let started = Instant::now();
        loop {
            if let Ok(r) = reqwest::blocking::get(&health) {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "llama-server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        llama
    }
}

impl Drop for Llama {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the proxy does with one request.
pub enum Action {
    /// Pass it on to the real server.
    Forward,
    /// Answer with this status, extra headers and body.
    Status(u16, Vec<(String, String)>, String),
    /// Wait, then pass it on.
    Delay(Duration),
    /// Close the connection without answering.
    Drop,
    /// Say nothing for this long, then close the connection (a hung endpoint).
    Hang(Duration),
    /// Answer 200 with this text as the model's answer.
    Answer(String),
}

/// Decides per request: its number (from 0) and the prompt's text.
pub type Script = dyn Fn(usize, &str) -> Action + Send + Sync;

/// A misbehaving proxy in front of a real endpoint.
pub struct FaultProxy {
    pub url: String,
    pub requests: Arc<AtomicUsize>,
    /// Every prompt received, in order.
    pub prompts: Arc<Mutex<Vec<String>>>,
}

impl FaultProxy {
    pub fn start(upstream: &str, script: Box<Script>) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let prompts = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::from(script);
        let upstream = format!("{}/chat/completions", upstream.trim_end_matches('/'));
        {
            let (requests, prompts) = (Arc::clone(&requests), Arc::clone(&prompts));
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let (requests, prompts, script, upstream) = (
                        Arc::clone(&requests),
                        Arc::clone(&prompts),
                        Arc::clone(&script),
                        upstream.clone(),
                    );
                    std::thread::spawn(move || {
                        let _ = serve(stream, &requests, &prompts, &*script, &upstream);
                    });
                }
            });
        }
        FaultProxy {
            url: format!("http://127.0.0.1:{port}/v1"),
            requests,
            prompts,
        }
    }
}

fn serve(
    mut stream: TcpStream,
    requests: &AtomicUsize,
    prompts: &Mutex<Vec<String>>,
    script: &Script,
    upstream: &str,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut len = 0usize;
    let mut auth = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().unwrap_or(0),
                "authorization" => auth = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let prompt = request["messages"][0]["content"]
        .as_str()
        .unwrap_or("")
        .to_string();
    prompts.lock().unwrap().push(prompt.clone());
    let n = requests.fetch_add(1, Ordering::SeqCst);
    let respond = |stream: &mut TcpStream,
                   status: u16,
                   headers: &[(String, String)],
                   body: &str| {
        let mut head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(body.as_bytes())
    };
    let forward = |stream: &mut TcpStream| -> std::io::Result<()> {
        let mut req = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .unwrap()
            .post(upstream)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(a) = &auth {
            req = req.header("authorization", a);
        }
        match req.send() {
            Ok(r) => {
                let status = r.status().as_u16();
                let text = r.text().unwrap_or_default();
                respond(stream, status, &[], &text)
            }
            Err(e) => respond(
                stream,
                502,
                &[],
                &json!({"error": e.to_string()}).to_string(),
            ),
        }
    };
    match script(n, &prompt) {
        Action::Forward => forward(&mut stream),
        Action::Delay(d) => {
            std::thread::sleep(d);
            forward(&mut stream)
        }
        Action::Status(code, headers, body) => respond(&mut stream, code, &headers, &body),
        Action::Drop => {
            let _ = stream.shutdown(std::net::Shutdown::Both);
            Ok(())
        }
        Action::Hang(d) => {
            std::thread::sleep(d);
            let _ = stream.shutdown(std::net::Shutdown::Both);
            Ok(())
        }
        Action::Answer(content) => {
            let body = json!({
                "choices": [{"message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1}
            });
            respond(&mut stream, 200, &[], &body.to_string())
        }
    }
}
