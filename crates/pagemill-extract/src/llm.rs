//! One chat-completions request to an OpenAI-compatible endpoint, and what can go wrong
//! with it, sorted into what a retry may fix and what it cannot.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Where requests go and as whom.
#[derive(Clone)]
pub struct Endpoint {
    /// Base URL of the API (`http://127.0.0.1:8080/v1`); `/chat/completions` is added
    /// unless the URL already ends with it.
    pub url: String,
    /// The model to ask for.
    pub model: String,
    /// Bearer token, if the endpoint wants one. Never logged or written (see the
    /// `Debug` impl).
    pub api_key: Option<String>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Endpoint {
    fn completions_url(&self) -> String {
        let base = self.url.trim_end_matches('/');
        if base.ends_with("/chat/completions") {
            base.to_string()
        } else {
            format!("{base}/chat/completions")
        }
    }
}

/// A message of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl Message {
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Message {
            role: "user".into(),
            content: content.into(),
        }
    }
    /// An assistant message (an earlier answer, quoted back).
    pub fn assistant(content: impl Into<String>) -> Self {
        Message {
            role: "assistant".into(),
            content: content.into(),
        }
    }
}

/// A completed request.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The answer's text.
    pub content: String,
    /// Prompt tokens, as the endpoint counted them (0 when it did not say).
    pub tokens_in: u64,
    /// Answer tokens, as the endpoint counted them.
    pub tokens_out: u64,
}

/// Why a request did not give an answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// No complete answer within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The endpoint asked us to slow down (HTTP 429), maybe saying for how long.
    #[error("rate limited (HTTP 429{})", .retry_after.map(|d| format!(", retry after {d:?}")).unwrap_or_default())]
    RateLimited {
        /// The `Retry-After` the endpoint sent.
        retry_after: Option<Duration>,
    },
    /// A server-side failure (HTTP 5xx).
    #[error("the endpoint failed (HTTP {status}): {body}")]
    Server {
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
        /// A `Retry-After`, if sent (503s often have one).
        retry_after: Option<Duration>,
    },
    /// The request itself was refused (HTTP 4xx other than 429): retrying will not help.
    #[error("the endpoint refused the request (HTTP {status}): {body}")]
    Refused {
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The connection failed or dropped.
    #[error("connection failed: {0}")]
    Connection(String),
    /// A 200 whose body is not a chat completion.
    #[error("the answer is not a chat completion: {0}")]
    Malformed(String),
}

impl CallError {
    /// Whether trying again may succeed.
    pub fn is_transient(&self) -> bool {
        !matches!(self, CallError::Refused { .. })
    }

    /// How long the endpoint asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::RateLimited { retry_after } | CallError::Server { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }
}

/// Longest body quoted in an error.
const BODY_QUOTE: usize = 300;

/// A limit on requests in flight shared by several clients: a service's extraction jobs
/// each have their LLM threads, and the operator's limit holds across all of them.
///
/// A counting semaphore over a mutex: requests last seconds, so the lock is cold, and
/// the blocking LLM threads need nothing async.
#[derive(Debug)]
pub struct Gate {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Gate {
    /// A gate letting `limit` requests through at once (at least one).
    pub fn new(limit: usize) -> Arc<Gate> {
        Arc::new(Gate {
            free: Mutex::new(limit.max(1)),
            freed: Condvar::new(),
        })
    }

    fn enter(&self) -> GatePass<'_> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        GatePass(self)
    }
}

/// One request's place in a [`Gate`], given back when dropped.
struct GatePass<'a>(&'a Gate);

impl Drop for GatePass<'_> {
    fn drop(&mut self) {
        let mut free = self.0.free.lock().unwrap_or_else(|p| p.into_inner());
        *free += 1;
        self.0.freed.notify_one();
    }
}

/// Sends chat requests. One per LLM thread; cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    endpoint: Endpoint,
    http: reqwest::blocking::Client,
    timeout: Duration,
    gate: Option<Arc<Gate>>,
}

impl Client {
    /// A client for `endpoint`; each request may take `timeout` in all.
    pub fn new(endpoint: Endpoint, timeout: Duration) -> Result<Self, CallError> {
        let http = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(30)))
            .build()
            .map_err(|e| CallError::Connection(e.to_string()))?;
        Ok(Client {
            endpoint,
            http,
            timeout,
            gate: None,
        })
    }

    /// The same client, its requests counted against `gate` (the timeout starts once a
    /// request is through it).
    pub fn with_gate(mut self, gate: Arc<Gate>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// One request: `messages`, answered as JSON matching `schema` when given.
    pub fn chat(&self, messages: &[Message], schema: Option<&Value>) -> Result<Reply, CallError> {
        let mut body = json!({
            "model": self.endpoint.model,
            "messages": messages,
            "temperature": 0,
            // llama.cpp's server reuses cached prompt state otherwise, and answers then
            // depend on what was asked before.
            "cache_prompt": false,
        });
        if let Some(schema) = schema {
            body["response_format"] = json!({
                "type": "json_schema",
                "json_schema": {"name": "section", "schema": schema, "strict": true},
            });
        }
        let _pass = self.gate.as_deref().map(Gate::enter);
        let mut req = self.http.post(self.endpoint.completions_url()).json(&body);
        if let Some(key) = &self.endpoint.api_key {
            req = req.bearer_auth(key);
        }
        let resp = req.send().map_err(|e| self.transport_error(e))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::retry::parse_retry_after);
        let text = resp.text().map_err(|e| self.transport_error(e))?;
        match status {
            200..=299 => parse_reply(&text),
            429 => Err(CallError::RateLimited { retry_after }),
            500..=599 => Err(CallError::Server {
                status,
                body: quote(&text),
                retry_after,
            }),
            _ => Err(CallError::Refused {
                status,
                body: quote(&text),
            }),
        }
    }

    fn transport_error(&self, e: reqwest::Error) -> CallError {
        if e.is_timeout() {
            CallError::Timeout(self.timeout)
        } else {
            // reqwest's message names the URL, never the headers (no key in it).
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                msg.push_str(&format!(": {s}"));
                source = s.source();
            }
            CallError::Connection(msg)
        }
    }
}

fn quote(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(BODY_QUOTE) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}

/// The answer of a chat-completions body.
fn parse_reply(text: &str) -> Result<Reply, CallError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| CallError::Malformed(format!("{e}: {}", quote(text))))?;
    let content = v["choices"][0]["message"]["content"]
        .as_str()
        .ok_or_else(|| {
            CallError::Malformed(format!("no choices[0].message.content in {}", quote(text)))
        })?;
    Ok(Reply {
        content: content.to_string(),
        tokens_in: v["usage"]["prompt_tokens"].as_u64().unwrap_or(0),
        tokens_out: v["usage"]["completion_tokens"].as_u64().unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gate_lets_through_no_more_than_its_limit() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let gate = Gate::new(2);
        let (inside, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let (gate, inside, most) = (gate.clone(), inside.clone(), most.clone());
                std::thread::spawn(move || {
                    let _pass = gate.enter();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
        assert_eq!(*gate.free.lock().unwrap(), 2, "every pass was given back");
    }

    #[test]
    fn a_completion_body_gives_its_text_and_token_counts() {
        let r = parse_reply(
            r#"{"choices":[{"message":{"role":"assistant","content":"{\"a\":1}"}}],
                "usage":{"prompt_tokens":12,"completion_tokens":5}}"#,
        )
        .unwrap();
        assert_eq!(
            (r.content.as_str(), r.tokens_in, r.tokens_out),
            ("{\"a\":1}", 12, 5)
        );
        assert!(matches!(
            parse_reply("not json"),
            Err(CallError::Malformed(_))
        ));
        assert!(matches!(
            parse_reply(r#"{"choices":[]}"#),
            Err(CallError::Malformed(_))
        ));
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let e = Endpoint {
            url: "http://x/v1".into(),
            model: "m".into(),
            api_key: Some("sk-secret-123".into()),
        };
        let shown = format!("{e:?}");
        assert!(!shown.contains("sk-secret"), "{shown}");
        assert!(shown.contains("<set>"));
    }

    #[test]
    fn the_completions_path_is_added_once() {
        let mut e = Endpoint {
            url: "http://x/v1/".into(),
            model: "m".into(),
            api_key: None,
        };
        assert_eq!(e.completions_url(), "http://x/v1/chat/completions");
        e.url = "http://x/v1/chat/completions".into();
        assert_eq!(e.completions_url(), "http://x/v1/chat/completions");
    }

    #[test]
    fn only_refusals_are_final() {
        assert!(CallError::Timeout(Duration::from_secs(1)).is_transient());
        assert!(CallError::RateLimited { retry_after: None }.is_transient());
        assert!(CallError::Connection("reset".into()).is_transient());
        assert!(!CallError::Refused {
            status: 400,
            body: String::new()
        }
        .is_transient());
    }
}
