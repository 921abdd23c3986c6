//! `pagemill sections` and `pagemill split`: a document's sections, listed or written
//! as one PDF each.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use pagemill_extract::Source;
use pagemill_sections::{HeadingCollector, SectionFile, SectionRule};

use crate::exit;
use crate::job::PipelineArgs;

/// Options of `pagemill sections`.
#[derive(Debug, Args)]
pub struct SectionsArgs {
    /// PDF files or directories (searched recursively).
    #[arg(required = true, value_name = "IN")]
    pub inputs: Vec<PathBuf>,

    /// How to cut: `outline[:DEPTH]` (the PDF's bookmarks, top level by default),
    /// `headings[:LEVEL]` (detected headings, levels counted from the document's
    /// largest; converts the pages first),
    /// `pages:1-10,11-30,31-` or `file:SECTIONS.json`.
    #[arg(long, value_name = "RULE", default_value = "outline")]
    pub sections: SectionRule,

    /// Print JSON (the format `file:` reads back) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Options of `pagemill split`.
#[derive(Debug, Args)]
pub struct SplitArgs {
    /// PDF files or directories (searched recursively).
    #[arg(required = true, value_name = "IN")]
    pub inputs: Vec<PathBuf>,

    /// Output directory: OUT/<name>/<name>.<section id>.pdf, and
    /// OUT/<name>/<name>.sections.json listing them.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,

    /// How to cut (see `pagemill sections --help`).
    #[arg(long, value_name = "RULE", default_value = "outline")]
    pub sections: SectionRule,

    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

/// The PDFs named (directories searched), each with its output name.
pub fn pdf_inputs(paths: &[PathBuf], out: &Path) -> anyhow::Result<Vec<pagemill_engine::Input>> {
    let (inputs, errors) = pagemill_engine::plan_inputs(paths, out);
    if let Some(e) = errors.first() {
        bail!("{e}");
    }
    for i in &inputs {
        if !is_pdf(&i.path) {
            bail!(
                "{}: sections are found in PDFs; convert images with `pagemill convert`",
                i.path.display()
            );
        }
    }
    Ok(inputs)
}

fn is_pdf(path: &Path) -> bool {
    let mut head = [0u8; 1024];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    head[..n].windows(5).any(|w| w == b"%PDF-")
}

/// Finds the sections of every input by `rule`; the first document without sections
/// stops the command with its reason.
pub fn find_sections(
    inputs: &[pagemill_engine::Input],
    rule: &SectionRule,
) -> anyhow::Result<Vec<SectionFile>> {
    let headings = match rule {
        // Every level is kept: levels count from each document's top heading.
        SectionRule::Headings { .. } => Some(detect_headings(inputs, 6)?),
        _ => None,
    };
    sections_with(inputs, rule, headings.as_ref())
}

/// Finds the sections of every input by `rule`, with the headings of a conversion
/// already made (for the `headings` rule).
pub fn sections_with(
    inputs: &[pagemill_engine::Input],
    rule: &SectionRule,
    headings: Option<&HeadingCollector>,
) -> anyhow::Result<Vec<SectionFile>> {
    let sources: Vec<Source> = inputs
        .iter()
        .map(|i| Source {
            path: i.path.clone(),
            shown: i.path.display().to_string(),
        })
        .collect();
    let found = pagemill_extract::find_sections(&sources, rule, headings)?;
    Ok(found.into_iter().collect::<Result<Vec<_>, _>>()?)
}

/// Converts the inputs' pages (text layer or OCR, no files written) and keeps their
/// headings up to `level`.
fn detect_headings(
    inputs: &[pagemill_engine::Input],
    level: u32,
) -> anyhow::Result<HeadingCollector> {
    let scratch = tempfile::tempdir().context("cannot make a temporary directory")?;
    let collector = Arc::new(HeadingCollector::new(level));
    let code = PipelineArgs::quiet_defaults().run(
        inputs.iter().map(|i| i.path.clone()).collect(),
        scratch.path().to_path_buf(),
        None,
        vec![collector.clone()],
    )?;
    if code != exit::OK && code != exit::PARTIAL {
        bail!("converting the pages to find their headings failed");
    }
    Arc::try_unwrap(collector).map_err(|_| anyhow::anyhow!("the heading collector is still in use"))
}

/// Runs `pagemill sections`.
pub fn run(args: SectionsArgs) -> anyhow::Result<u8> {
    let inputs = pdf_inputs(&args.inputs, Path::new("."))?;
    let files = find_sections(&inputs, &args.sections)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        if files.len() == 1 {
            serde_json::to_writer_pretty(&mut out, &files[0])?;
        } else {
            serde_json::to_writer_pretty(&mut out, &files)?;
        }
        writeln!(out)?;
        return Ok(exit::OK);
    }
    for (n, f) in files.iter().enumerate() {
        if n > 0 {
            writeln!(out)?;
        }
        writeln!(
            out,
            "{}: {} sections ({}), {} pages",
            f.document,
            f.sections.len(),
            f.rule,
            f.pages
        )?;
        let width = f
            .sections
            .iter()
            .map(|s| s.id.len())
            .max()
            .unwrap_or(2)
            .max(2);
        let pw = f
            .sections
            .iter()
            .map(|s| s.pages().len())
            .max()
            .unwrap_or(5)
            .max(5);
        writeln!(out, "  {:width$}  {:pw$}  title", "id", "pages")?;
        for s in &f.sections {
            writeln!(
                out,
                "  {:width$}  {:pw$}  {}",
                s.id,
                s.pages(),
                s.path_line()
            )?;
        }
        for note in &f.notes {
            writeln!(out, "  note: {note}")?;
        }
    }
    Ok(exit::OK)
}

/// Runs `pagemill split`.
pub fn run_split(args: SplitArgs) -> anyhow::Result<u8> {
    let inputs = pdf_inputs(&args.inputs, &args.output)?;
    let files = find_sections(&inputs, &args.sections)?;
    let pdfium = pagemill_pdf::Engine::load()?;
    for (input, file) in inputs.iter().zip(&files) {
        std::fs::create_dir_all(&input.out_dir)
            .with_context(|| format!("cannot create {}", input.out_dir.display()))?;
        let mut doc = pagemill_pdf::PagedDocument::open(&pdfium, &input.path, None)?;
        for s in &file.sections {
            let path = input.out_dir.join(format!("{}.{}.pdf", input.stem, s.id));
            write_atomically(&path, |w| {
                doc.write_pages(s.first - 1, s.last - 1, w)
                    .map_err(anyhow::Error::from)
            })?;
        }
        let listing = input.out_dir.join(format!("{}.sections.json", input.stem));
        write_atomically(&listing, |w| Ok(serde_json::to_writer_pretty(w, file)?))?;
        if !args.quiet {
            eprintln!(
                "pagemill: {} → {} sections in {}",
                file.document,
                file.sections.len(),
                input.out_dir.display()
            );
        }
    }
    Ok(exit::OK)
}

/// Writes `path` through a temporary file beside it, renamed into place when complete,
/// so a reader never sees half a file.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    // Outputs are ordinary files (0644 before the umask), not private temporary ones.
    let mut tmp = tempfile::Builder::new()
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        write(&mut w).with_context(|| format!("cannot write {}", path.display()))?;
        w.flush()?;
    }
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
