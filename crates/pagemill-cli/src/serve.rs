//! `pagemill serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::{Args, Subcommand};
use pagemill_core::size::parse_size;
use pagemill_engine::EngineConfig;
use pagemill_server::ServerConfig;

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

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServeArgs {
    #[command(subcommand)]
    command: Option<ServeCommand>,

    /// API key file (`NAME:SHA256` lines, made with `pagemill serve keys add`): requests
    /// then need `Authorization: Bearer KEY`, and each key sees only its own jobs.
    #[arg(long, value_name = "FILE", env = "PAGEMILL_API_KEYS")]
    api_keys: Option<PathBuf>,

    /// Listen on a non-loopback address without API keys (anyone who reaches it can use
    /// the service).
    #[arg(long, env = "PAGEMILL_INSECURE_NO_AUTH")]
    insecure_no_auth: bool,

    /// Address to listen on.
    #[arg(
        long,
        value_name = "ADDR",
        env = "PAGEMILL_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    listen: SocketAddr,

    /// Where jobs, uploads, results and the job database live
    /// [default: ~/.local/share/pagemill/serve].
    #[arg(long, value_name = "DIR", env = "PAGEMILL_DATA_DIR")]
    data_dir: Option<PathBuf>,

    /// Largest upload (all files of a request), e.g. 200MB; larger ones get 413.
    #[arg(long, value_name = "SIZE", env = "PAGEMILL_MAX_UPLOAD_SIZE", default_value = "200MB", value_parser = parse_size)]
    max_upload_size: u64,

    /// Jobs waiting to start before new ones get 429.
    #[arg(
        long,
        value_name = "N",
        env = "PAGEMILL_MAX_QUEUED_JOBS",
        default_value_t = 1000
    )]
    max_queued_jobs: usize,

    /// Jobs converting at once (their pages share the workers fairly); the rest wait.
    #[arg(
        long,
        value_name = "N",
        env = "PAGEMILL_MAX_RUNNING_JOBS",
        default_value_t = 4
    )]
    max_running_jobs: usize,

    /// How long finished jobs and their results are kept, e.g. 24h, 30m.
    #[arg(long, value_name = "DURATION", env = "PAGEMILL_RETENTION", default_value = "24h", value_parser = parse_duration)]
    retention: Duration,

    /// Free disk space the data directory keeps: below it, uploads get 507.
    #[arg(long, value_name = "SIZE", env = "PAGEMILL_MIN_FREE_DISK", default_value = "1GiB", value_parser = parse_size)]
    min_free_disk: u64,

    /// Worker processes [default: number of cores].
    #[arg(short, long, value_name = "N", env = "PAGEMILL_JOBS")]
    jobs: Option<usize>,

    /// Memory that pages in flight may hold, across all jobs (e.g. 512MiB, 2G).
    #[arg(long, value_name = "SIZE", env = "PAGEMILL_MEMORY_BUDGET", default_value = "512MiB", value_parser = parse_size)]
    memory_budget: u64,
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
    let Some(data_dir) = args.data_dir.or_else(default_data_dir) else {
        bail!("no home directory to put the data in: give --data-dir DIR");
    };
    let mut config = ServerConfig::new(data_dir);
    config.listen = args.listen;
    config.max_upload_size = args.max_upload_size;
    config.max_queued_jobs = args.max_queued_jobs.max(1);
    config.max_running_jobs = args.max_running_jobs.max(1);
    config.retention = args.retention;
    config.min_free_disk = args.min_free_disk;
    config.api_keys = args.api_keys;
    config.insecure_no_auth = args.insecure_no_auth;
    let defaults = EngineConfig::default();
    config.engine = EngineConfig {
        workers: args.jobs.unwrap_or(defaults.workers).max(1),
        memory_budget: args.memory_budget,
        ..defaults
    };
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

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("3w").is_err());
    }
}
