//! `pagemill serve`: an HTTP job service over the one [`pagemill_engine::Engine`].
//!
//! The flow follows a job: [`upload`] streams the files to disk, [`store`] queues the job
//! in SQLite, [`runner`] hands it to the engine and records its events, [`live`] wakes
//! the [`routes::events`] streams, and [`routes::files`] serves what the engine wrote.
//! Everything lives under one data directory ([`data`]).

#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod config;
pub mod data;
pub mod error;
mod extraction;
pub mod indexes;
pub mod ledger;
pub mod live;
pub mod metrics;
pub mod options;
pub mod routes;
pub mod runner;
pub mod store;
pub mod upload;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

pub use auth::{ApiKeys, Owner};
pub use config::{ServerConfig, TransportFactory};
use data::DataDir;
use error::ApiError;
pub use ledger::{Adopted, JobLedger, LedgerError, LedgerFactory};
use live::Live;
use runner::{now_ms, Runner};
use store::{Store, StoreError};

/// Why the service could not start or stopped.
#[derive(Debug, Error)]
pub enum ServeError {
    /// The data directory could not be prepared.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The job database could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engine could not start.
    #[error("cannot start the engine: {0}")]
    Engine(#[from] pagemill_engine::EngineError),
    /// The engine's transport (worker hosts over the network) could not be set up.
    #[error("cannot reach the worker hosts: {0}")]
    Transport(String),
    /// The address could not be listened on, or serving failed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The API key file is unreadable or malformed.
    #[error(transparent)]
    Keys(#[from] auth::KeyError),
    /// Listening beyond this machine without API keys.
    #[error("refusing to listen on {0} without API keys: anyone who can reach it could use the service; give API keys, or say that you mean it")]
    NoAuth(SocketAddr),
    /// A thread could not be started.
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
}

/// What every request handler shares.
pub struct AppState {
    /// The settings.
    pub config: ServerConfig,
    /// The job database.
    pub store: Arc<Store>,
    /// The data directory.
    pub data: DataDir,
    /// Wake-ups for event streams.
    pub live: Arc<Live>,
    /// The jobs' runner (and the engine).
    pub runner: Runner,
    /// The search indexes.
    pub indexes: Arc<indexes::Indexes>,
    /// The API keys accepted (none: no authentication).
    pub keys: ApiKeys,
    /// The job ledger shared with other services, if any.
    pub ledger: Option<Arc<dyn JobLedger>>,
    /// The metrics recorder, when this process installed one.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

/// The shared state, as handlers take it.
pub type App = Arc<AppState>;

/// Runs `f` on the job database from a blocking thread.
pub(crate) async fn db<T, F>(app: &App, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
{
    let store = Arc::clone(&app.store);
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)
}

/// A service bound to its address, ready to run.
pub struct Server {
    app: App,
    listener: tokio::net::TcpListener,
}

impl Server {
    /// Prepares the data directory (removing a crash's half-received uploads, requeueing
    /// the jobs it interrupted), starts the engine and binds the address.
    pub async fn bind(config: ServerConfig) -> Result<Server, ServeError> {
        let keys = match &config.api_keys {
            Some(path) => ApiKeys::load(path)?,
            None => ApiKeys::default(),
        };
        if keys.is_empty() && !config.listen.ip().is_loopback() && !config.insecure_no_auth {
            return Err(ServeError::NoAuth(config.listen));
        }
        let data = DataDir::new(config.data_dir.clone());
        data.prepare().map_err(|source| ServeError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
        let store = Arc::new(Store::open(&data.database())?);
        let requeued = store.requeue_running()?;
        if requeued > 0 {
            tracing::info!(jobs = requeued, "resuming jobs a stop interrupted");
        }
        remove_orphans(&store, &data)?;
        let ledger = match &config.ledger {
            Some(make) => {
                let name = data.server_id().map_err(|source| ServeError::DataDir {
                    path: config.data_dir.clone(),
                    source,
                })?;
                let ledger = (make.0)(&name).map_err(ServeError::Transport)?;
                let (l, s, d) = (Arc::clone(&ledger), Arc::clone(&store), data.clone());
                tokio::task::spawn_blocking(move || ledger::reconcile(&*l, &s, &d))
                    .await
                    .map_err(|e| ServeError::Transport(e.to_string()))?;
                tracing::info!(service = %name, "sharing jobs with other services");
                Some(ledger)
            }
            None => None,
        };
        let live = Arc::new(Live::default());
        for id in store.unfinished()? {
            live.open(&id, 0);
        }
        let engine = match &config.transport {
            Some(make) => {
                let transport = (make.0)(&config.engine).map_err(ServeError::Transport)?;
                pagemill_engine::Engine::with_transport(config.engine.clone(), transport)?
            }
            None => pagemill_engine::Engine::start(config.engine.clone())?,
        };
        // One embedding thread per worker: they share the cores with the page workers, and
        // a job's embedding keeps pace with its conversion (see docs/index.md).
        let indexes = Arc::new(indexes::Indexes::new(
            data.indexes(),
            &config.index_model,
            config.engine.workers,
        ));
        let runner = Runner::start(
            engine,
            Arc::clone(&store),
            data.clone(),
            Arc::clone(&live),
            Arc::clone(&indexes),
            config.llm.clone(),
            config.max_running_jobs,
        )
        .map_err(ServeError::Thread)?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServeError::Listen {
                addr: config.listen,
                source,
            })?;
        let app = Arc::new(AppState {
            config,
            store,
            data,
            live,
            runner,
            indexes,
            keys,
            ledger,
            metrics: metrics::install(),
        });
        Ok(Server { app, listener })
    }

    /// The address listened on (the real port when 0 was asked).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves until `shutdown` completes, then stops taking requests, lets the engine
    /// finish or checkpoint its pages, and returns.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let addr = self.local_addr().unwrap_or_else(|| self.app.config.listen);
        let sweeper = tokio::spawn(sweep(Arc::clone(&self.app)));
        let sampler = tokio::spawn(metrics::sample(Duration::from_secs(1)));
        let mirror = self.app.ledger.as_ref().map(|l| {
            tokio::spawn(ledger::sync(Arc::new(ledger::Mirror {
                ledger: Arc::clone(l),
                store: Arc::clone(&self.app.store),
                data: self.app.data.clone(),
                live: Arc::clone(&self.app.live),
                runner: self.app.runner.clone(),
            })))
        });
        let served = axum::serve(self.listener, routes::router(Arc::clone(&self.app)))
            .with_graceful_shutdown(shutdown)
            .await;
        sweeper.abort();
        sampler.abort();
        if let Some(m) = mirror {
            m.abort();
        }
        let runner = self.app.runner.clone();
        let _ = tokio::task::spawn_blocking(move || runner.shutdown()).await;
        served.map_err(|source| ServeError::Listen { addr, source })
    }
}

/// Job folders the database does not know (a crash between receiving and queueing).
fn remove_orphans(store: &Store, data: &DataDir) -> Result<(), ServeError> {
    let known: std::collections::HashSet<String> = store.ids()?.into_iter().collect();
    let present = data.job_ids().map_err(|source| ServeError::DataDir {
        path: data.root().to_path_buf(),
        source,
    })?;
    for id in present.into_iter().filter(|id| !known.contains(id)) {
        if let Err(e) = data.remove_job(&id) {
            tracing::warn!(job = %id, error = %e, "cannot remove an orphaned job folder");
        }
    }
    Ok(())
}

/// Removes finished jobs older than the retention, every so often.
async fn sweep(app: App) {
    let every = (app.config.retention / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let before = now_ms() - app.config.retention.as_millis() as i64;
        let a = Arc::clone(&app);
        let swept = tokio::task::spawn_blocking(move || -> Result<usize, StoreError> {
            let ids = a.store.expired(before)?;
            for id in &ids {
                // Files first: a job whose files cannot be removed stays listed, and the
                // next sweep tries again (rather than leaving files no one knows of).
                if let Err(e) = a.data.remove_job(id) {
                    tracing::warn!(job = %id, error = %e, "cannot remove an expired job's files");
                    continue;
                }
                a.store.delete(id)?;
                if let Some(l) = &a.ledger {
                    // Ended jobs' inputs were let go when they ended.
                    l.forget(id, 0);
                }
            }
            if !ids.is_empty() {
                a.store.compact()?;
            }
            Ok(ids.len())
        })
        .await;
        match swept {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(jobs = n, "expired jobs removed"),
            Ok(Err(e)) => tracing::error!(error = %e, "retention sweep failed"),
            Err(e) => tracing::error!(error = %e, "retention sweep failed"),
        }
    }
}

/// Runs the service until SIGINT or SIGTERM, on its own runtime; `ready` is called
/// with the address once it listens.
pub fn run_blocking(
    config: ServerConfig,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("pagemill-http")
        .build()
        .map_err(ServeError::Thread)?;
    rt.block_on(async move {
        let server = Server::bind(config).await?;
        if let Some(addr) = server.local_addr() {
            ready(addr);
        }
        server.run(shutdown_signal()).await
    })
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let int = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = int.await;
                    return;
                }
            };
        tokio::select! {
            _ = int => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = int.await;
    }
    tracing::info!("stopping: finishing pages in flight");
}
