//! `--nats` options and `pagemill worker`: the scale-out front end (pagemill-nats).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use pagemill_nats::connect::read_secret;
use pagemill_nats::names::Names;
use pagemill_nats::{Credentials, NatsOptions, NodeConfig};

use crate::exit;
use pagemill_core::size::parse_size;

/// Environment variable with the NATS password (for `--nats-user`).
const PASSWORD_ENV: &str = "PAGEMILL_NATS_PASSWORD";
/// Environment variable with the NATS token.
const TOKEN_ENV: &str = "PAGEMILL_NATS_TOKEN";

/// How to reach a NATS JetStream server. Secrets come from files or the environment,
/// never from the command line.
#[derive(Debug, Args, Clone, Default)]
pub struct NatsArgs {
    /// Run the pages on `pagemill worker` hosts through this NATS JetStream server
    /// (nats://HOST:4222, tls://HOST:4222; several comma-separated) instead of local
    /// worker processes. With it, --jobs is how many workers to keep busy across the hosts.
    #[arg(long, value_name = "URL", env = "PAGEMILL_NATS_URL")]
    pub nats: Option<String>,

    /// Prefix of the subjects, streams and buckets (separate deployments on one server).
    #[arg(long, value_name = "NAME", default_value = "pagemill")]
    pub nats_prefix: String,

    /// NATS user; the password comes from --nats-password-file or PAGEMILL_NATS_PASSWORD.
    #[arg(long, value_name = "USER")]
    pub nats_user: Option<String>,

    /// File holding the NATS password (for --nats-user).
    #[arg(long, value_name = "FILE", requires = "nats_user")]
    pub nats_password_file: Option<PathBuf>,

    /// File holding a NATS token (or set PAGEMILL_NATS_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub nats_token_file: Option<PathBuf>,

    /// File holding an nkey seed (SU…) whose public key the server knows.
    #[arg(long, value_name = "FILE")]
    pub nats_nkey: Option<PathBuf>,

    /// A NATS creds file (user JWT and seed).
    #[arg(long, value_name = "FILE")]
    pub nats_creds: Option<PathBuf>,

    /// CA certificate (PEM) to trust for the server's TLS certificate; implies TLS.
    #[arg(long, value_name = "FILE")]
    pub nats_ca: Option<PathBuf>,

    /// Client certificate (PEM) for servers that verify clients; with --nats-key.
    #[arg(long, value_name = "FILE", requires = "nats_key")]
    pub nats_cert: Option<PathBuf>,

    /// The client certificate's key (PEM).
    #[arg(long, value_name = "FILE", requires = "nats_cert")]
    pub nats_key: Option<PathBuf>,

    /// Seconds a task may go without word from its host before another host gets it (a
    /// host sends word every third of this while a page runs).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 30.0,
        hide_short_help = true
    )]
    pub nats_ack_wait: f64,

    /// Deliveries of a task before it is recorded as failed (a page that kills every
    /// host it reaches).
    #[arg(long, value_name = "N", default_value_t = 3, hide_short_help = true)]
    pub nats_max_deliver: i64,
}

impl NatsArgs {
    /// The connection options, with credentials read from their files or the environment.
    pub fn options(&self, url: &str) -> anyhow::Result<NatsOptions> {
        let mut o = NatsOptions::new(url);
        o.names = Names::new(&self.nats_prefix)?;
        let given = [
            self.nats_user.is_some(),
            self.nats_token_file.is_some(),
            self.nats_nkey.is_some(),
            self.nats_creds.is_some(),
        ]
        .iter()
        .filter(|&&g| g)
        .count();
        if given > 1 {
            bail!("give one of --nats-user, --nats-token-file, --nats-nkey and --nats-creds");
        }
        o.credentials = if let Some(user) = &self.nats_user {
            let password = match &self.nats_password_file {
                Some(f) => read_secret(f)?,
                None => std::env::var(PASSWORD_ENV).with_context(|| {
                    format!("--nats-user needs a password: --nats-password-file or {PASSWORD_ENV}")
                })?,
            };
            Credentials::UserPassword {
                user: user.clone(),
                password,
            }
        } else if let Some(f) = &self.nats_token_file {
            Credentials::Token(read_secret(f)?)
        } else if let Some(f) = &self.nats_nkey {
            Credentials::NKeySeed(read_secret(f)?)
        } else if let Some(f) = &self.nats_creds {
            Credentials::CredsFile(f.clone())
        } else if let Some(t) = std::env::var(TOKEN_ENV)
            .ok()
            .filter(|t| !t.trim().is_empty())
        {
            Credentials::Token(t.trim().to_string())
        } else {
            Credentials::None
        };
        o.tls_ca = self.nats_ca.clone();
        o.tls_client = self.nats_cert.clone().zip(self.nats_key.clone());
        if !(self.nats_ack_wait.is_finite() && self.nats_ack_wait >= 1.0) {
            bail!("--nats-ack-wait must be at least 1 second");
        }
        o.ack_wait = Duration::from_secs_f64(self.nats_ack_wait);
        if self.nats_max_deliver < 1 {
            bail!("--nats-max-deliver must be at least 1");
        }
        o.max_deliver = self.nats_max_deliver;
        Ok(o)
    }
}

/// `pagemill worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub nats: NatsArgs,

    /// Worker processes on this host [default: number of cores].
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Memory the pages under way on this host may hold (priced as `convert` prices
    /// them); a task is pulled only when the budget has room.
    #[arg(long, value_name = "SIZE", default_value = "512MiB", value_parser = parse_size)]
    pub memory_budget: u64,

    /// Most memory one worker process may use [default: twice --memory-budget per
    /// worker, at least 768 MiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub worker_memory: Option<u64>,

    /// Seconds a stop (SIGTERM, Ctrl-C) waits for the pages under way before handing them
    /// back to the queue; a second signal stops at once.
    #[arg(long, value_name = "SECONDS", default_value_t = 120.0)]
    pub drain_timeout: f64,

    /// This host's name in answers and logs [default: HOSTNAME-PID].
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Where fetched documents are kept while in use [default: a temporary directory].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Fault injection for tests: die at once on taking page N (1-based), as a host that
    /// a page takes down would.
    #[arg(long, value_name = "N", hide = true)]
    pub abort_on_page: Option<u32>,
}

/// Runs a worker host until SIGTERM or Ctrl-C.
pub fn run_worker(args: WorkerArgs) -> anyhow::Result<u8> {
    let Some(url) = args.nats.nats.clone() else {
        bail!("pagemill worker needs --nats URL (or PAGEMILL_NATS_URL): the server to take pages from");
    };
    let options = args.nats.options(&url)?;
    if !(args.drain_timeout.is_finite() && args.drain_timeout >= 0.0) {
        bail!("--drain-timeout must be a number of seconds");
    }
    pagemill_engine::worker::locate_pdfium()?;
    let host = args.name.clone().unwrap_or_else(|| {
        let h = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        format!("{}-{}", h.trim(), std::process::id())
    });
    let tmp;
    let cache_dir = match &args.cache_dir {
        Some(d) => d.join(&host),
        None => {
            tmp = tempfile::Builder::new()
                .prefix("pagemill-worker-")
                .tempdir()
                .context("cannot create a cache directory")?;
            tmp.path().join("docs")
        }
    };
    let config = NodeConfig {
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1),
        memory_budget: args.memory_budget,
        worker_memory: args.worker_memory,
        exe: std::env::current_exe().context("cannot find the pagemill executable")?,
        cache_dir,
        host: host.clone(),
        drain_timeout: Duration::from_secs_f64(args.drain_timeout),
        abort_on_page: args.abort_on_page.and_then(|p| p.checked_sub(1)),
    };
    let stop = crate::job::stop_on_signals()?;
    eprintln!(
        "pagemill worker {host}: {} process(es), taking pages from {}",
        config.jobs,
        options.display_url()
    );
    let report = pagemill_nats::run_node(options, config, stop)?;
    eprintln!(
        "pagemill worker {host}: stopped after {} answer(s); {} page(s) lost their process; {} handed back",
        report.answered, report.lost, report.handed_back
    );
    Ok(exit::OK)
}
