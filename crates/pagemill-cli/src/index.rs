//! `pagemill index` and `pagemill search`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use pagemill_chunk::ChunkConfig;
use pagemill_extract::{LlmEntities, Passage};
use pagemill_index::{
    open_store, search, DocumentRecord, Entity, EntityFinder, Filter, IndexSinkFactory, Mode,
    PlannedDocument, RuleEntities, Store,
};

use crate::exit;
use crate::job::PipelineArgs;
use crate::llm::LlmArgs;

/// Options of `pagemill index`.
#[derive(Debug, Args)]
pub struct IndexArgs {
    /// PDF files, images or directories (searched recursively). Unchanged files are
    /// skipped, changed ones indexed again, and files gone from a directory given here
    /// removed from the index.
    #[arg(value_name = "IN")]
    inputs: Vec<PathBuf>,

    /// The index directory (created if missing).
    #[arg(long, value_name = "DIR")]
    index: PathBuf,

    /// Tokens per chunk, as the embedding model counts them (its special tokens
    /// included); at most the model's window (256 for all-MiniLM-L6-v2).
    #[arg(long, value_name = "N", default_value_t = 256)]
    chunk_tokens: usize,

    /// Tokens of prose a chunk repeats from the one before it (whole sentences).
    #[arg(long, value_name = "N", default_value_t = 32)]
    chunk_overlap: usize,

    /// Embedding model (installed by scripts/setup).
    #[arg(long, value_name = "NAME", default_value = "all-MiniLM-L6-v2")]
    model: String,

    /// How entities are found in each chunk: `rules` (dates, quantities, e-mails, URLs,
    /// capitalised names; no network) or `llm` (the rules, plus people, organisations,
    /// places, products, events and works named by an LLM with a built-in prompt and
    /// schema, one request per chunk, bounded like `pagemill extract`).
    #[arg(long, value_enum, value_name = "HOW", default_value = "rules")]
    entities: EntitiesBy,

    /// Model name sent with `--entities llm` requests.
    #[arg(
        long,
        value_name = "NAME",
        env = "PAGEMILL_LLM_MODEL",
        default_value = "default"
    )]
    llm_model: String,

    /// The LLM endpoint of `--entities llm`, and the bounds of its requests.
    #[command(flatten)]
    llm: LlmArgs,

    /// Remove the given files (or every file under the given directories) from the
    /// index instead of indexing them.
    #[arg(long)]
    remove: bool,

    /// Print what the index holds and exit.
    #[arg(long)]
    stats: bool,

    /// How pages are converted.
    #[command(flatten)]
    pipeline: PipelineArgs,
}

/// How entities are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EntitiesBy {
    /// Rules only.
    Rules,
    /// Rules and an LLM.
    Llm,
}

/// The rules' entities and an LLM's, per chunk. A chunk whose request fails keeps the
/// rules' (warned and counted), so the index is never short of a chunk.
struct LlmEntityFinder(LlmEntities);

impl EntityFinder for LlmEntityFinder {
    fn find(&self, document: &str, chunks: &[pagemill_chunk::Chunk]) -> Vec<Vec<Entity>> {
        let texts: Vec<(String, String)> = chunks
            .iter()
            .map(|c| {
                let (a, b) = c.pages;
                let pages = if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                };
                (c.heading_line(), pages)
            })
            .collect();
        let passages: Vec<Passage<'_>> = chunks
            .iter()
            .zip(&texts)
            .map(|(c, (path, pages))| Passage {
                document,
                path,
                pages,
                text: &c.text,
            })
            .collect();
        let found = self.0.find(&passages);
        chunks
            .iter()
            .zip(found)
            .map(|(c, llm)| {
                let mut all = pagemill_index::entities::extract(&c.text);
                match llm {
                    Ok(pairs) => {
                        for (kind, value) in pairs {
                            if !all.iter().any(|e| e.kind == kind && e.value == value) {
                                all.push(Entity { kind, value });
                            }
                        }
                    }
                    Err(e) => tracing::warn!(
                        document,
                        chunk = c.seq,
                        error = %e,
                        "no LLM entities for a chunk (the rules' are kept)"
                    ),
                }
                all
            })
            .collect()
    }
}

/// Files named by `inputs` (directories expanded), as the converter would take them.
fn files_of(inputs: &[PathBuf], scratch: &std::path::Path) -> Vec<PathBuf> {
    let (planned, _) = pagemill_engine::inputs::plan_inputs(inputs, scratch);
    planned.into_iter().map(|i| i.path).collect()
}

/// Documents in the index that lie under one of the directories among `inputs` but are
/// not in `present`.
fn vanished(
    docs: &[DocumentRecord],
    inputs: &[PathBuf],
    present: &[PlannedDocument],
) -> Vec<DocumentRecord> {
    let dirs: Vec<PathBuf> = inputs
        .iter()
        .filter(|p| p.is_dir())
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    docs.iter()
        .filter(|d| {
            dirs.iter()
                .any(|dir| PathBuf::from(&d.path).starts_with(dir))
        })
        .filter(|d| !present.iter().any(|p| p.key == d.path))
        .cloned()
        .collect()
}

/// Runs `pagemill index`.
pub fn run(args: IndexArgs) -> anyhow::Result<u8> {
    if args.stats {
        return stats(&args);
    }
    if args.inputs.is_empty() {
        bail!("name the files or directories to index (or use --stats)");
    }
    let embedder: Arc<dyn pagemill_embed::Embedder> =
        Arc::from(pagemill_embed::load(&args.model).context("cannot load the embedding model")?);
    let max = embedder.max_tokens() + 2;
    if args.chunk_tokens < 16 || args.chunk_tokens > max {
        bail!(
            "--chunk-tokens must be between 16 and {max} for {}",
            embedder.name()
        );
    }
    if args.chunk_overlap * 2 > args.chunk_tokens {
        bail!("--chunk-overlap must be at most half of --chunk-tokens");
    }
    let mut store = open_store(&args.index, embedder.name(), embedder.dimension(), true)?;
    let scratch = args.index.join("convert");
    let files = files_of(&args.inputs, &scratch);

    let mut planned = Vec::new();
    for f in &files {
        planned
            .push(PlannedDocument::of(f).with_context(|| format!("cannot read {}", f.display()))?);
    }
    let known = store.documents()?;
    if args.remove {
        let mut removed = 0;
        for p in &planned {
            if let Some(d) = known.iter().find(|d| d.path == p.key) {
                store.remove_document(d.id)?;
                removed += 1;
            }
        }
        for d in vanished(&known, &args.inputs, &[]) {
            store.remove_document(d.id)?;
            removed += 1;
        }
        if !args.pipeline.quiet {
            eprintln!(
                "pagemill: removed {removed} document(s) from {}",
                args.index.display()
            );
        }
        return Ok(exit::OK);
    }
    for d in vanished(&known, &args.inputs, &planned) {
        if !args.pipeline.quiet {
            eprintln!("pagemill: {} is gone; removing it from the index", d.path);
        }
        store.remove_document(d.id)?;
    }
    let (todo, unchanged): (Vec<PlannedDocument>, Vec<PlannedDocument>) =
        planned.into_iter().partition(|p| {
            !known
                .iter()
                .any(|d| d.complete && d.path == p.key && d.sha256 == p.sha256)
        });
    if !args.pipeline.quiet && !unchanged.is_empty() {
        eprintln!(
            "pagemill: {} unchanged document(s) skipped",
            unchanged.len()
        );
    }
    if todo.is_empty() {
        return Ok(exit::OK);
    }
    let inputs: Vec<PathBuf> = todo.iter().map(|p| PathBuf::from(&p.key)).collect();
    let store: Arc<Mutex<dyn Store>> = Arc::new(Mutex::new(store));
    let config = ChunkConfig::new(args.chunk_tokens - 2, args.chunk_overlap);
    let threads = args.pipeline.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let llm = match args.entities {
        EntitiesBy::Rules => None,
        EntitiesBy::Llm => Some(Arc::new(LlmEntityFinder(LlmEntities::new(
            args.llm.client(&args.llm_model)?,
            args.llm.llm_concurrency,
            args.llm.retries,
            args.llm.corrections,
        )))),
    };
    let entities: Arc<dyn EntityFinder> = match &llm {
        Some(finder) => finder.clone(),
        None => Arc::new(RuleEntities),
    };
    let factory = IndexSinkFactory::new(
        Arc::clone(&store),
        embedder,
        threads,
        config,
        todo,
        entities,
    );
    let code = args
        .pipeline
        .run(inputs, scratch, None, vec![Arc::new(factory)])?;
    if let Some(finder) = llm {
        let (asked, failed) = finder.0.counts();
        if !args.pipeline.quiet {
            eprintln!(
                "pagemill: LLM entities for {} of {asked} chunks ({failed} failed: their rule entities are kept)",
                asked - failed
            );
        }
        if failed > 0 && code == exit::OK {
            return Ok(exit::PARTIAL);
        }
    }
    Ok(code)
}

fn stats(args: &IndexArgs) -> anyhow::Result<u8> {
    let Some((model, dim)) = pagemill_index::index_model(&args.index)? else {
        println!("index:      {} (empty)", args.index.display());
        return Ok(exit::OK);
    };
    let store = open_store(&args.index, &model, dim, false)?;
    let s = store.stats()?;
    println!("index:      {}", args.index.display());
    println!("model:      {model}");
    println!("documents:  {}", s.documents);
    if s.incomplete > 0 {
        println!(
            "incomplete: {} (removed and indexed again on the next run)",
            s.incomplete
        );
    }
    println!("pages:      {}", s.pages);
    println!("chunks:     {}", s.chunks);
    println!("entities:   {}", s.entities);
    println!("size:       {:.1} MiB", s.bytes as f64 / (1 << 20) as f64);
    Ok(exit::OK)
}

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SearchMode {
    /// BM25 and vector results fused by reciprocal rank.
    Hybrid,
    /// Embedding similarity only.
    Vector,
    /// BM25 only.
    Bm25,
}

/// Options of `pagemill search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// What to look for, in plain words.
    #[arg(value_name = "QUERY")]
    query: String,

    /// The index directory.
    #[arg(long, value_name = "DIR")]
    index: PathBuf,

    /// Results to show.
    #[arg(short, default_value_t = 10)]
    k: usize,

    /// Which retriever answers.
    #[arg(long, value_enum, default_value_t = SearchMode::Hybrid)]
    mode: SearchMode,

    /// Only documents whose path contains this.
    #[arg(long, value_name = "TEXT")]
    document: Option<String>,

    /// Only these pages, 1-based: `12` or `10-20`.
    #[arg(long, value_name = "RANGE")]
    pages: Option<String>,

    /// Only chunks with an entity of this kind (`date`, `quantity`, `email`, `url`,
    /// `name`; after `--entities llm` also `person`, `organization`, `place`, `product`,
    /// `event`, `work`, `other`), or of this kind and value (`email=jane@example.org`).
    #[arg(long, value_name = "KIND[=VALUE]")]
    entity: Option<String>,

    /// One JSON object with the results, for programs.
    #[arg(long)]
    json: bool,
}

fn page_range(s: &str) -> anyhow::Result<(u32, u32)> {
    Filter::page_span(s)
        .with_context(|| format!("--pages: `{s}` is not N, N-M or N- (pages count from 1)"))
}

/// Runs `pagemill search`.
pub fn run_search(args: SearchArgs) -> anyhow::Result<u8> {
    let (model, _) = pagemill_index::index_model(&args.index)?
        .context("the index holds nothing yet; add documents with `pagemill index`")?;
    let embedder =
        pagemill_embed::load(&model).context("cannot load the index's embedding model")?;
    let store = open_store(&args.index, embedder.name(), embedder.dimension(), false)?;
    let filter = Filter {
        document: args.document.clone(),
        pages: args.pages.as_deref().map(page_range).transpose()?,
        entity: args.entity.clone(),
    };
    let mode = match args.mode {
        SearchMode::Hybrid => Mode::Hybrid,
        SearchMode::Vector => Mode::Vector,
        SearchMode::Bm25 => Mode::Bm25,
    };
    let started = std::time::Instant::now();
    let hits = search(
        &store,
        embedder.as_ref(),
        &args.query,
        args.k,
        mode,
        &filter,
    )?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if args.json {
        let out = serde_json::json!({
            "query": args.query,
            "mode": format!("{:?}", args.mode).to_lowercase(),
            "milliseconds": (ms * 10.0).round() / 10.0,
            "hits": hits,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(exit::OK);
    }
    if hits.is_empty() {
        println!("no results");
        return Ok(exit::OK);
    }
    let bold = std::io::stdout().is_terminal();
    for (i, h) in hits.iter().enumerate() {
        let c = &h.chunk;
        let pages = if c.first_page == c.last_page {
            format!("p. {}", c.first_page)
        } else {
            format!("pp. {}-{}", c.first_page, c.last_page)
        };
        println!("{}. [{:.4}] {} {pages}", i + 1, h.score, c.document);
        if !c.heading_path.is_empty() {
            println!("   {}", c.heading_path.join(" > "));
        }
        let snippet = if bold {
            highlight(&h.snippet)
        } else {
            h.snippet.clone()
        };
        println!("   {snippet}\n");
    }
    Ok(exit::OK)
}

/// `**x**` → bold on a terminal.
fn highlight(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in s.split("**").enumerate() {
        if i % 2 == 1 {
            out.push_str("\x1b[1m");
            out.push_str(part);
            out.push_str("\x1b[0m");
        } else {
            out.push_str(part);
        }
    }
    out
}
