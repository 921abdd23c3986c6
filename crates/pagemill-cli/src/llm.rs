//! The LLM endpoint flags shared by `pagemill extract` and `pagemill index --entities llm`
//! (the model flag is each command's own: `index` has an embedding `--model`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use pagemill_extract::{Client, Endpoint};

/// The environment variable holding the endpoint's API key.
pub const KEY_ENV: &str = "PAGEMILL_LLM_API_KEY";

/// Where requests go, and their bounds.
#[derive(Debug, Args)]
pub struct LlmArgs {
    /// Base URL of an OpenAI-compatible API.
    #[arg(
        long,
        value_name = "URL",
        env = "PAGEMILL_LLM_URL",
        default_value = "http://127.0.0.1:8080/v1"
    )]
    pub llm_url: String,

    /// File whose first line is the API key (else PAGEMILL_LLM_API_KEY; never a flag, so
    /// it stays out of shell history and the process list).
    #[arg(long, value_name = "FILE")]
    pub llm_key_file: Option<PathBuf>,

    /// Requests in flight at once.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub llm_concurrency: usize,

    /// Seconds one request may take; a slower one is abandoned and retried.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 300.0,
        alias = "request-timeout"
    )]
    pub section_timeout: f64,

    /// Retries of a request after a timeout, a dropped connection, HTTP 429 (after its
    /// Retry-After) or 5xx, with exponential backoff and jitter.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub retries: u32,

    /// Follow-up requests after an answer that does not match the schema.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub corrections: u32,
}

impl LlmArgs {
    /// A client for `model` at the endpoint, with the key from the file or environment.
    pub fn client(&self, model: &str) -> anyhow::Result<Client> {
        if !(self.section_timeout.is_finite() && self.section_timeout > 0.0) {
            bail!("--section-timeout must be a positive number of seconds");
        }
        let endpoint = Endpoint {
            url: self.llm_url.clone(),
            model: model.to_string(),
            api_key: api_key(self.llm_key_file.as_ref())?,
        };
        Client::new(endpoint, Duration::from_secs_f64(self.section_timeout))
            .map_err(|e| anyhow::anyhow!("cannot set up the LLM client: {e}"))
    }
}

/// The API key: from `file`, else the environment; never from a flag.
pub fn api_key(file: Option<&PathBuf>) -> anyhow::Result<Option<String>> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--llm-key-file: cannot read {}", path.display()))?;
        let key = text.lines().next().unwrap_or("").trim().to_string();
        if key.is_empty() {
            bail!(
                "--llm-key-file: {} is empty; put the key on its first line",
                path.display()
            );
        }
        return Ok(Some(key));
    }
    Ok(std::env::var(KEY_ENV).ok().filter(|k| !k.trim().is_empty()))
}
