//! Worker processes and the channel their answers arrive on.
//!
//! Each worker is a child process running `<exe> internal-worker`. A reader thread per
//! worker turns its stdout into [`PoolEvent`]s on one channel, so the scheduler waits on a
//! single queue with a timeout (which is also how deadlines are checked). Each worker slot
//! has a generation number; events from a replaced process are recognisably stale.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pagemill_core::protocol::{read_frame, write_frame, FrameError, Request, Response};

/// The hidden subcommand that turns the executable into a worker.
pub const WORKER_ARG: &str = "internal-worker";

/// What native code and the Rust runtime print when an allocation fails: Rust's
/// `handle_alloc_error`, libstdc++'s `std::bad_alloc`, Leptonica's failed creations.
const OUT_OF_MEMORY_SIGNS: &[&str] = &[
    "memory allocation of",
    "bad_alloc",
    "out of memory",
    "Out of memory",
    "not made",
];

/// What a worker slot reports.
#[derive(Debug)]
pub enum PoolEvent {
    /// A message, and its size on the wire.
    Message {
        /// Worker slot.
        slot: usize,
        /// Process generation of the slot.
        generation: u64,
        /// The message.
        response: Response,
        /// Bytes on the wire (an estimate of the memory the result holds).
        bytes: usize,
    },
    /// The worker's output ended: it exited, crashed or was killed.
    Exited {
        /// Worker slot.
        slot: usize,
        /// Process generation of the slot.
        generation: u64,
        /// Why the stream ended, if it ended with an error.
        error: Option<String>,
    },
}

struct Worker {
    child: Child,
    stdin: BufWriter<ChildStdin>,
    generation: u64,
    /// Set when the worker's stderr showed an allocation failure.
    out_of_memory: Arc<AtomicBool>,
}

/// A fixed number of worker processes.
pub struct WorkerPool {
    exe: PathBuf,
    /// Each worker's limit on its data (heap and private mappings), bytes.
    memory_limit: Option<u64>,
    workers: Vec<Option<Worker>>,
    tx: Sender<PoolEvent>,
    rx: Receiver<PoolEvent>,
    next_generation: u64,
}

/// A worker could not be started.
#[derive(Debug, thiserror::Error)]
#[error("cannot start worker process {exe}: {source}")]
pub struct SpawnError {
    exe: String,
    #[source]
    source: std::io::Error,
}

impl WorkerPool {
    /// Starts `n` workers running `exe internal-worker`, each limited to `memory_limit`
    /// bytes of data when given.
    pub fn start(exe: PathBuf, n: usize, memory_limit: Option<u64>) -> Result<Self, SpawnError> {
        let (tx, rx) = mpsc::channel();
        let mut pool = WorkerPool {
            exe,
            memory_limit,
            workers: Vec::new(),
            tx,
            rx,
            next_generation: 0,
        };
        for slot in 0..n.max(1) {
            pool.workers.push(None);
            pool.spawn(slot)?;
        }
        Ok(pool)
    }

    fn spawn(&mut self, slot: usize) -> Result<(), SpawnError> {
        let mut cmd = Command::new(&self.exe);
        cmd.arg(WORKER_ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Native libraries that parallelise internally (OpenMP in Tesseract) must not:
            // pagemill already runs one worker per core.
            .env("OMP_THREAD_LIMIT", "1");
        if let Some(limit) = self.memory_limit {
            // RLIMIT_DATA (heap and private writable mappings) rather than RLIMIT_AS:
            // allocators reserve address space they never use (PDFium's partitions), which
            // an address-space limit would count. A CPU-time limit is not set: a worker
            // lives for many pages, and each page has its own deadline.
            // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child here.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: limit as libc::rlim_t,
                        rlim_max: limit as libc::rlim_t,
                    };
                    if libc::setrlimit(libc::RLIMIT_DATA, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().map_err(|source| SpawnError {
            exe: self.exe.display().to_string(),
            source,
        })?;
        let out_of_memory = Arc::new(AtomicBool::new(false));
        if let Some(stderr) = child.stderr.take() {
            // The worker's messages reach the user as before; an allocation failure among
            // them marks the worker's end as a memory failure.
            let flag = Arc::clone(&out_of_memory);
            thread::Builder::new()
                .name(format!("worker-{slot}-stderr"))
                .spawn(move || {
                    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                        if OUT_OF_MEMORY_SIGNS.iter().any(|s| line.contains(s)) {
                            flag.store(true, Ordering::Relaxed);
                        }
                        let _ = writeln!(std::io::stderr(), "{line}");
                    }
                })
                .map_err(|source| SpawnError {
                    exe: self.exe.display().to_string(),
                    source,
                })?;
        }
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(SpawnError {
                exe: self.exe.display().to_string(),
                source: std::io::Error::other("worker pipes missing"),
            });
        };
        self.next_generation += 1;
        let generation = self.next_generation;
        let tx = self.tx.clone();
        thread::Builder::new()
            .name(format!("worker-{slot}-reader"))
            .spawn(move || {
                let mut r = BufReader::with_capacity(256 * 1024, stdout);
                loop {
                    match read_frame::<_, Response>(&mut r) {
                        Ok((response, bytes)) => {
                            if tx
                                .send(PoolEvent::Message {
                                    slot,
                                    generation,
                                    response,
                                    bytes,
                                })
                                .is_err()
                            {
                                return;
                            }
                        }
                        Err(e) => {
                            let error = match e {
                                FrameError::Eof => None,
                                other => Some(other.to_string()),
                            };
                            let _ = tx.send(PoolEvent::Exited {
                                slot,
                                generation,
                                error,
                            });
                            return;
                        }
                    }
                }
            })
            .map_err(|source| SpawnError {
                exe: self.exe.display().to_string(),
                source,
            })?;
        self.workers[slot] = Some(Worker {
            child,
            stdin: BufWriter::new(stdin),
            generation,
            out_of_memory,
        });
        Ok(())
    }

    /// Number of worker slots.
    pub fn len(&self) -> usize {
        self.workers.len()
    }

    /// Always false: a pool has at least one slot.
    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// The current generation of a slot.
    pub fn generation(&self, slot: usize) -> u64 {
        self.workers[slot].as_ref().map_or(0, |w| w.generation)
    }

    /// Process ids of the live workers (for memory accounting).
    pub fn pids(&self) -> Vec<u32> {
        self.workers
            .iter()
            .flatten()
            .map(|w| w.child.id())
            .collect()
    }

    /// Sends a request. A failed write means the worker is gone; its reader reports that.
    pub fn send(&mut self, slot: usize, req: &Request) -> bool {
        match self.workers[slot].as_mut() {
            Some(w) => write_frame(&mut w.stdin, req).is_ok(),
            None => false,
        }
    }

    /// Waits for the next event, up to `timeout`.
    pub fn recv(&self, timeout: Duration) -> Option<PoolEvent> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// Kills a worker (deadline overrun); its reader then reports [`PoolEvent::Exited`].
    pub fn kill(&mut self, slot: usize) {
        if let Some(w) = self.workers[slot].as_mut() {
            let _ = w.child.kill();
        }
    }

    /// Whether the slot's worker has shown an allocation failure since the last call (it
    /// may have survived it, with a result that cannot be trusted).
    pub fn take_out_of_memory(&self, slot: usize) -> bool {
        self.workers[slot]
            .as_ref()
            .is_some_and(|w| w.out_of_memory.swap(false, Ordering::Relaxed))
    }

    /// Process id of a slot's worker.
    pub fn pid(&self, slot: usize) -> Option<u32> {
        self.workers[slot].as_ref().map(|w| w.child.id())
    }

    /// Replaces an idle worker with a fresh process (memory recycling): closes its stdin so
    /// it exits cleanly, then starts a new one in the slot.
    pub fn recycle(&mut self, slot: usize) -> Result<(), SpawnError> {
        if let Some(w) = self.workers[slot].take() {
            let Worker {
                mut child, stdin, ..
            } = w;
            drop(stdin);
            wait_for(&mut child, Duration::from_secs(2));
        }
        self.spawn(slot)
    }

    /// Reaps a worker whose output ended and starts a replacement; says how the old
    /// process ended.
    pub fn replace(&mut self, slot: usize) -> Result<Ended, SpawnError> {
        let ended = match self.workers[slot].take() {
            Some(mut w) => {
                drop(w.stdin);
                let status = wait_for(&mut w.child, Duration::from_secs(2));
                // Give the stderr relay a moment to see the last words.
                thread::sleep(Duration::from_millis(20));
                let signal = status.and_then(|s| s.signal());
                let how = match (status, signal) {
                    (_, Some(sig)) => format!("was killed by signal {sig}"),
                    (Some(s), None) => format!("exited with {s}"),
                    (None, None) => "did not exit".to_string(),
                };
                Ended {
                    how,
                    signal,
                    out_of_memory: w.out_of_memory.load(Ordering::Relaxed),
                }
            }
            None => Ended {
                how: "was not running".to_string(),
                signal: None,
                out_of_memory: false,
            },
        };
        self.spawn(slot)?;
        Ok(ended)
    }
}

/// How a worker process ended.
#[derive(Debug, Clone)]
pub struct Ended {
    /// For a message: "was killed by signal 9", "exited with exit status: 1".
    pub how: String,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// Its stderr showed an allocation failure.
    pub out_of_memory: bool,
}

fn wait_for(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) if start.elapsed() < limit => thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                return child.wait().ok();
            }
        }
    }
}

impl Drop for WorkerPool {
    /// Closing stdin asks a worker to exit; one that does not is killed.
    fn drop(&mut self) {
        for w in self
            .workers
            .iter_mut()
            .filter_map(Option::take)
            .collect::<Vec<_>>()
        {
            let Worker {
                mut child, stdin, ..
            } = w;
            drop(stdin);
            wait_for(&mut child, Duration::from_secs(2));
        }
    }
}
