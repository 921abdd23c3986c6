//! The local transport: one worker process per slot.
//!
//! Each worker is a child process running `<exe> internal-worker`, with a data limit
//! (RLIMIT_DATA) when one is set. A reader thread per worker turns its stdout into
//! [`TransportEvent`]s; a relay thread passes its stderr on and watches it for allocation
//! failures.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pagemill_core::protocol::{read_frame, write_frame, FrameError, Request, Response};

use super::{Ended, EventTx, TransportError, TransportEvent, WorkerTransport};
use crate::rss;

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

struct Worker {
    child: Child,
    stdin: BufWriter<ChildStdin>,
    generation: u64,
    /// Set when the worker's stderr showed an allocation failure.
    out_of_memory: Arc<AtomicBool>,
}

/// A fixed number of worker processes.
pub struct ProcessPool {
    exe: PathBuf,
    /// Each worker's limit on its data (heap and private mappings), bytes.
    memory_limit: Option<u64>,
    workers: Vec<Option<Worker>>,
    events: Option<EventTx>,
    next_generation: u64,
}

impl ProcessPool {
    /// A pool of `n` workers running `exe internal-worker`, each limited to `memory_limit`
    /// bytes of data when given. Nothing starts before [`WorkerTransport::start`].
    pub fn new(exe: PathBuf, n: usize, memory_limit: Option<u64>) -> Self {
        ProcessPool {
            exe,
            memory_limit,
            workers: (0..n.max(1)).map(|_| None).collect(),
            events: None,
            next_generation: 0,
        }
    }

    fn error(&self, source: std::io::Error) -> TransportError {
        TransportError {
            what: format!("{} {WORKER_ARG}", self.exe.display()),
            source,
        }
    }

    fn spawn(&mut self, slot: usize) -> Result<(), TransportError> {
        let Some(events) = self.events.clone() else {
            return Err(self.error(std::io::Error::other("the pool was not started")));
        };
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
        let mut child = cmd.spawn().map_err(|e| self.error(e))?;
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
                .map_err(|e| self.error(e))?;
        }
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(self.error(std::io::Error::other("worker pipes missing")));
        };
        self.next_generation += 1;
        let generation = self.next_generation;
        let tx = events;
        thread::Builder::new()
            .name(format!("worker-{slot}-reader"))
            .spawn(move || {
                let mut r = BufReader::with_capacity(256 * 1024, stdout);
                loop {
                    match read_frame::<_, Response>(&mut r) {
                        Ok((response, bytes)) => {
                            if !tx(TransportEvent::Message {
                                slot,
                                generation,
                                response,
                                bytes,
                            }) {
                                return;
                            }
                        }
                        Err(e) => {
                            let error = match e {
                                FrameError::Eof => None,
                                other => Some(other.to_string()),
                            };
                            tx(TransportEvent::Exited {
                                slot,
                                generation,
                                error,
                            });
                            return;
                        }
                    }
                }
            })
            .map_err(|e| self.error(e))?;
        self.workers[slot] = Some(Worker {
            child,
            stdin: BufWriter::new(stdin),
            generation,
            out_of_memory,
        });
        Ok(())
    }

    /// Process ids of the live workers.
    fn pids(&self) -> Vec<u32> {
        self.workers
            .iter()
            .flatten()
            .map(|w| w.child.id())
            .collect()
    }
}

impl WorkerTransport for ProcessPool {
    fn start(&mut self, events: EventTx) -> Result<(), TransportError> {
        self.events = Some(events);
        for slot in 0..self.workers.len() {
            self.spawn(slot)?;
        }
        Ok(())
    }

    fn slots(&self) -> usize {
        self.workers.len()
    }

    fn generation(&self, slot: usize) -> u64 {
        self.workers[slot].as_ref().map_or(0, |w| w.generation)
    }

    fn send(&mut self, slot: usize, req: &Request) -> bool {
        match self.workers[slot].as_mut() {
            Some(w) => write_frame(&mut w.stdin, req).is_ok(),
            None => false,
        }
    }

    fn kill(&mut self, slot: usize) {
        if let Some(w) = self.workers[slot].as_mut() {
            let _ = w.child.kill();
        }
    }

    fn take_out_of_memory(&self, slot: usize) -> bool {
        self.workers[slot]
            .as_ref()
            .is_some_and(|w| w.out_of_memory.swap(false, Ordering::Relaxed))
    }

    fn worker_rss(&self, slot: usize) -> Option<u64> {
        self.workers[slot]
            .as_ref()
            .map(|w| rss::rss_bytes(w.child.id()))
    }

    fn tree_rss(&self) -> u64 {
        rss::tree_rss(&self.pids())
    }

    /// Closes the idle worker's stdin so it exits cleanly, then starts a new one.
    fn recycle(&mut self, slot: usize) -> Result<(), TransportError> {
        if let Some(w) = self.workers[slot].take() {
            let Worker {
                mut child, stdin, ..
            } = w;
            drop(stdin);
            wait_for(&mut child, Duration::from_secs(2));
        }
        self.spawn(slot)
    }

    fn replace(&mut self, slot: usize) -> Result<Ended, TransportError> {
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
                    timed_out: false,
                }
            }
            None => Ended {
                how: "was not running".to_string(),
                signal: None,
                out_of_memory: false,
                timed_out: false,
            },
        };
        self.spawn(slot)?;
        Ok(ended)
    }
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

impl Drop for ProcessPool {
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
