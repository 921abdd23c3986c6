//! `pagemill serve`: settings from flags, `PAGEMILL_*` variables and an optional TOML file
//! (in that order of precedence, then the defaults), then the service.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use pagemill_core::size::parse_size;
use pagemill_engine::EngineConfig;
use pagemill_extract::Endpoint;
use pagemill_server::config::LlmConfig;
use pagemill_server::ServerConfig;
use serde::Deserialize;

/// `24h`, `30m`, `90s`, `7d` or a number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, unit) = t.split_at(t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len()));
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 24h, 30m, 90s)"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        _ => return Err(format!("`{s}`: the unit is one of s, m, h, d")),
    };
    if !(secs.is_finite() && secs > 0.0) {
        return Err(format!("`{s}` must be positive"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The default data directory: `$XDG_DATA_HOME/pagemill/serve`, else
/// `~/.local/share/pagemill/serve`.
fn default_data_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("pagemill/serve"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/pagemill/serve"))
}

/// How logs are written (on stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Lines for a person.
    Text,
    /// One JSON object a line, for a log collector.
    Json,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServeArgs {
    #[command(subcommand)]
    command: Option<ServeCommand>,

    #[command(flatten)]
    nats: crate::nats::NatsArgs,

    /// A TOML file with any of these settings, named as the flags with `_` for `-`
    /// (`listen = "0.0.0.0:8080"`, `max_upload_size = "1GB"`, `cors_origins = [...]`).
    /// A flag or a PAGEMILL_* variable wins over the file.
    #[arg(long, value_name = "FILE", env = "PAGEMILL_CONFIG")]
    config: Option<PathBuf>,

    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR", env = "PAGEMILL_LISTEN")]
    listen: Option<SocketAddr>,

    /// Where jobs, uploads, results and the job database live
    /// [default: ~/.local/share/pagemill/serve].
    #[arg(long, value_name = "DIR", env = "PAGEMILL_DATA_DIR")]
    data_dir: Option<PathBuf>,

    /// Largest upload (all files of a request), e.g. 200MB; larger ones get 413
    /// [default: 200MB].
    #[arg(long, value_name = "SIZE", env = "PAGEMILL_MAX_UPLOAD_SIZE", value_parser = parse_size)]
    max_upload_size: Option<u64>,

    /// Jobs waiting to start before new ones get 429 [default: 1000].
    #[arg(long, value_name = "N", env = "PAGEMILL_MAX_QUEUED_JOBS")]
    max_queued_jobs: Option<usize>,

    /// Jobs converting at once (their pages share the workers fairly); the rest wait
    /// [default: 4].
    #[arg(long, value_name = "N", env = "PAGEMILL_MAX_RUNNING_JOBS")]
    max_running_jobs: Option<usize>,

    /// How long finished jobs and their results are kept, e.g. 24h, 30m [default: 24h].
    #[arg(long, value_name = "DURATION", env = "PAGEMILL_RETENTION", value_parser = parse_duration)]
    retention: Option<Duration>,

    /// Free disk space the data directory keeps: below it, uploads get 507
    /// [default: 1GiB].
    #[arg(long, value_name = "SIZE", env = "PAGEMILL_MIN_FREE_DISK", value_parser = parse_size)]
    min_free_disk: Option<u64>,

    /// Worker processes [default: number of cores].
    #[arg(short, long, value_name = "N", env = "PAGEMILL_JOBS")]
    jobs: Option<usize>,

    /// Memory that pages in flight may hold, across all jobs (e.g. 512MiB, 2G)
    /// [default: 512MiB].
    #[arg(long, value_name = "SIZE", env = "PAGEMILL_MEMORY_BUDGET", value_parser = parse_size)]
    memory_budget: Option<u64>,

    /// API key file (`NAME:SHA256` lines, made with `pagemill serve keys add`): requests
    /// then need `Authorization: Bearer KEY`, and each key sees only its own jobs.
    #[arg(long, value_name = "FILE", env = "PAGEMILL_API_KEYS")]
    api_keys: Option<PathBuf>,

    /// Listen on a non-loopback address without API keys (anyone who reaches it can use
    /// the service).
    #[arg(long, env = "PAGEMILL_INSECURE_NO_AUTH")]
    insecure_no_auth: bool,

    /// An origin whose web pages may call the API (CORS), e.g. https://app.example.org;
    /// repeat for more. None by default: browsers allow only pages of this server.
    #[arg(
        long = "cors-origin",
        value_name = "ORIGIN",
        env = "PAGEMILL_CORS_ORIGINS",
        value_delimiter = ','
    )]
    cors_origins: Vec<String>,

    /// Base URL of the OpenAI-compatible endpoint extraction jobs (a `prompt` option)
    /// use; without it they are refused. Its key comes from --llm-key-file or
    /// PAGEMILL_LLM_API_KEY, never a flag.
    #[arg(long, value_name = "URL", env = "PAGEMILL_LLM_URL")]
    llm_url: Option<String>,

    /// Model name sent with extraction requests [default: default].
    #[arg(long, value_name = "NAME", env = "PAGEMILL_LLM_MODEL")]
    llm_model: Option<String>,

    /// File whose first line is the endpoint's API key (else PAGEMILL_LLM_API_KEY).
    #[arg(long, value_name = "FILE", env = "PAGEMILL_LLM_KEY_FILE")]
    llm_key_file: Option<PathBuf>,

    /// Extraction requests in flight at once, across all jobs [default: 2].
    #[arg(long, value_name = "N", env = "PAGEMILL_LLM_CONCURRENCY")]
    llm_concurrency: Option<usize>,

    /// Let a job name its own `llm_url` and `model` (the server's key is never sent to
    /// an endpoint a client names).
    #[arg(long, env = "PAGEMILL_LLM_ALLOW_CLIENT_ENDPOINT")]
    llm_allow_client_endpoint: bool,

    /// Log format on stderr [default: text]. RUST_LOG sets the level (default info).
    #[arg(long, value_enum, env = "PAGEMILL_LOG_FORMAT")]
    log_format: Option<LogFormat>,
}

/// The settings a `--config` file may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    max_upload_size: Option<String>,
    max_queued_jobs: Option<usize>,
    max_running_jobs: Option<usize>,
    retention: Option<String>,
    min_free_disk: Option<String>,
    jobs: Option<usize>,
    memory_budget: Option<String>,
    api_keys: Option<PathBuf>,
    insecure_no_auth: Option<bool>,
    cors_origins: Option<Vec<String>>,
    llm_url: Option<String>,
    llm_model: Option<String>,
    llm_key_file: Option<PathBuf>,
    llm_concurrency: Option<usize>,
    llm_allow_client_endpoint: Option<bool>,
    log_format: Option<LogFormat>,
}

fn read_file_settings(path: &Path) -> anyhow::Result<FileSettings> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--config: cannot read {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("--config: {}", path.display()))
}

impl ServeArgs {
    /// The log format asked for (the file is read again later for the rest).
    pub fn log_format(&self) -> LogFormat {
        self.log_format
            .or_else(|| {
                let path = self.config.as_ref()?;
                read_file_settings(path).ok()?.log_format
            })
            .unwrap_or(LogFormat::Text)
    }
}

#[derive(Debug, Subcommand)]
enum ServeCommand {
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a key named NAME: prints it once (only its SHA-256 is kept in the file).
    Add {
        /// The key's name (letters, digits, `-`, `_`); jobs belong to it.
        name: String,
        /// The API key file to add it to.
        #[arg(long, value_name = "FILE", env = "PAGEMILL_API_KEYS")]
        api_keys: PathBuf,
    },
}

/// A size from the file, checked like the flag.
fn file_size(key: &str, v: Option<String>) -> anyhow::Result<Option<u64>> {
    v.map(|s| parse_size(&s).map_err(|e| anyhow::anyhow!("--config: {key}: {e}")))
        .transpose()
}

/// The service's settings: each from its flag or variable, else the file, else the default.
fn settings(args: ServeArgs) -> anyhow::Result<ServerConfig> {
    let file = match &args.config {
        Some(path) => read_file_settings(path)?,
        None => FileSettings::default(),
    };
    let Some(data_dir) = args.data_dir.or(file.data_dir).or_else(default_data_dir) else {
        bail!("no home directory to put the data in: give --data-dir DIR");
    };
    let mut config = ServerConfig::new(data_dir);
    let retention = match file.retention {
        Some(r) => {
            Some(parse_duration(&r).map_err(|e| anyhow::anyhow!("--config: retention: {e}"))?)
        }
        None => None,
    };
    config.listen = args.listen.or(file.listen).unwrap_or(config.listen);
    config.max_upload_size = args
        .max_upload_size
        .or(file_size("max_upload_size", file.max_upload_size)?)
        .unwrap_or(config.max_upload_size);
    config.max_queued_jobs = args
        .max_queued_jobs
        .or(file.max_queued_jobs)
        .unwrap_or(config.max_queued_jobs)
        .max(1);
    config.max_running_jobs = args
        .max_running_jobs
        .or(file.max_running_jobs)
        .unwrap_or(config.max_running_jobs)
        .max(1);
    config.retention = args.retention.or(retention).unwrap_or(config.retention);
    config.min_free_disk = args
        .min_free_disk
        .or(file_size("min_free_disk", file.min_free_disk)?)
        .unwrap_or(config.min_free_disk);
    config.api_keys = args.api_keys.or(file.api_keys);
    config.insecure_no_auth = args.insecure_no_auth || file.insecure_no_auth.unwrap_or(false);
    config.cors_origins = if args.cors_origins.is_empty() {
        file.cors_origins.unwrap_or_default()
    } else {
        args.cors_origins
    };
    config.llm = match args.llm_url.or(file.llm_url) {
        Some(url) => Some(LlmConfig {
            endpoint: Endpoint {
                url,
                model: args
                    .llm_model
                    .or(file.llm_model)
                    .unwrap_or_else(|| "default".into()),
                api_key: crate::llm::api_key(args.llm_key_file.or(file.llm_key_file).as_ref())?,
            },
            concurrency: args
                .llm_concurrency
                .or(file.llm_concurrency)
                .unwrap_or(2)
                .max(1),
            allow_client_endpoint: args.llm_allow_client_endpoint
                || file.llm_allow_client_endpoint.unwrap_or(false),
        }),
        None => None,
    };
    if let Some(url) = &args.nats.nats {
        let options = args.nats.options(url)?;
        config.ledger = Some(crate::serve_ledger::factory(options.clone()));
        config.transport = Some(pagemill_server::TransportFactory(std::sync::Arc::new(
            move |engine: &EngineConfig| {
                pagemill_nats::NatsTransport::connect(options.clone(), engine.workers)
                    .map(|t| Box::new(t) as Box<dyn pagemill_engine::transport::WorkerTransport>)
                    .map_err(|e| e.to_string())
            },
        )));
    }
    let defaults = EngineConfig::default();
    config.engine = EngineConfig {
        workers: args.jobs.or(file.jobs).unwrap_or(defaults.workers).max(1),
        memory_budget: args
            .memory_budget
            .or(file_size("memory_budget", file.memory_budget)?)
            .unwrap_or(defaults.memory_budget),
        ..defaults
    };
    Ok(config)
}

pub fn run(args: ServeArgs) -> anyhow::Result<u8> {
    if let Some(ServeCommand::Keys(KeysCommand::Add { name, api_keys })) = &args.command {
        let key = pagemill_server::ApiKeys::add(api_keys, name)?;
        eprintln!(
            "pagemill: key `{name}` added to {} (shown once; only its hash is kept):",
            api_keys.display()
        );
        println!("{key}");
        return Ok(crate::exit::OK);
    }
    let config = settings(args)?;
    let data_dir = config.data_dir.clone();
    pagemill_server::run_blocking(config, |addr| {
        // On stdout, one line, so scripts and tests can wait for it.
        println!(
            "pagemill: listening on http://{addr} (data in {})",
            data_dir.display()
        );
    })
    .map_err(|e| match e {
        pagemill_server::ServeError::NoAuth(addr) => anyhow::anyhow!(
            "refusing to listen on {addr} without API keys: give --api-keys FILE (make keys \
             with `pagemill serve keys add NAME --api-keys FILE`), listen on 127.0.0.1, or \
             pass --insecure-no-auth"
        ),
        other => anyhow::Error::new(other).context("pagemill serve"),
    })?;
    Ok(crate::exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("3w").is_err());
    }

    #[test]
    fn a_flag_wins_over_the_file_and_the_file_over_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("serve.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nmax_upload_size = \"10MB\"\nretention = \"2h\"\n\
             cors_origins = [\"https://a.example\"]\n",
        )
        .unwrap();
        let args = Cli::parse_from([
            "x",
            "--config",
            file.to_str().unwrap(),
            "--data-dir",
            "/tmp/d",
            "--retention",
            "30m",
        ])
        .serve;
        let c = settings(args).unwrap();
        assert_eq!(c.listen.port(), 9000, "from the file");
        assert_eq!(c.max_upload_size, parse_size("10MB").unwrap());
        assert_eq!(c.retention, Duration::from_secs(1800), "the flag wins");
        assert_eq!(c.max_queued_jobs, 1000, "the default");
        assert_eq!(c.cors_origins, vec!["https://a.example".to_string()]);
    }

    #[test]
    fn unknown_settings_in_the_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("serve.toml");
        std::fs::write(&file, "listne = \"127.0.0.1:9000\"\n").unwrap();
        let args = Cli::parse_from(["x", "--config", file.to_str().unwrap()]).serve;
        let e = settings(args).unwrap_err();
        assert!(format!("{e:#}").contains("listne"), "{e:#}");
    }
}
