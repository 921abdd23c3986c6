//! The service's settings: where it listens, where it keeps its data, and the limits that
//! protect the machine from its clients.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use std::sync::Arc;

use pagemill_engine::transport::WorkerTransport;
use pagemill_engine::EngineConfig;
use pagemill_extract::Endpoint;

/// Makes the engine's transport from its settings (`pagemill serve --nats` gives one that
/// sends pages to worker hosts); an error is one line for a person.
#[derive(Clone)]
pub struct TransportFactory(
    #[allow(clippy::type_complexity)]
    pub  Arc<dyn Fn(&EngineConfig) -> Result<Box<dyn WorkerTransport>, String> + Send + Sync>,
);

impl std::fmt::Debug for TransportFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TransportFactory")
    }
}

/// Everything `pagemill serve` is started with.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where jobs, uploads, results and the job database live.
    pub data_dir: PathBuf,
    /// Largest upload (all files of one request together), in bytes.
    pub max_upload_size: u64,
    /// Jobs waiting to start before new ones are refused with 429.
    pub max_queued_jobs: usize,
    /// Jobs handed to the engine at once; their pages interleave there. The others wait
    /// in the queue, in order.
    pub max_running_jobs: usize,
    /// Free space the data directory keeps: below it, uploads get 507 and `/readyz` 503.
    pub min_free_disk: u64,
    /// How long finished jobs (and their results) are kept.
    pub retention: Duration,
    /// The API key file (`NAME:SHA256` lines); without it, no authentication.
    pub api_keys: Option<PathBuf>,
    /// Listen beyond loopback without API keys.
    pub insecure_no_auth: bool,
    /// Origins whose pages may call the API (CORS); none by default.
    pub cors_origins: Vec<String>,
    /// The engine's machine settings (workers, memory budget).
    pub engine: EngineConfig,
    /// The engine's transport; without it, local worker processes.
    pub transport: Option<TransportFactory>,
    /// A job ledger shared with other services (`serve --nats`); without it, jobs are
    /// this service's alone.
    pub ledger: Option<crate::ledger::LedgerFactory>,
    /// The embedding model of the search indexes (`/v1/indexes`).
    pub index_model: String,
    /// The LLM endpoint of extraction jobs; without it, jobs with a `prompt` are refused.
    pub llm: Option<LlmConfig>,
}

/// The LLM endpoint extraction jobs use, and how hard they may use it.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// URL, model and key (the key is never logged: see [`Endpoint`]'s `Debug`).
    pub endpoint: Endpoint,
    /// Requests in flight at once, across all jobs.
    pub concurrency: usize,
    /// Whether a job may name its own `llm_url` and `model`. The server's key is never
    /// sent to an endpoint a client named.
    pub allow_client_endpoint: bool,
}

impl ServerConfig {
    /// The defaults, with data under `data_dir`.
    pub fn new(data_dir: PathBuf) -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir,
            max_upload_size: 200 << 20,
            max_queued_jobs: 1000,
            max_running_jobs: 4,
            min_free_disk: 1 << 30,
            retention: Duration::from_secs(24 * 3600),
            api_keys: None,
            insecure_no_auth: false,
            cors_origins: Vec::new(),
            engine: EngineConfig::default(),
            transport: None,
            ledger: None,
            index_model: "all-MiniLM-L6-v2".into(),
            llm: None,
        }
    }
}
