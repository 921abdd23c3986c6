//! Settings: the machine's ([`EngineConfig`], for the life of an [`Engine`](crate::Engine))
//! and each job's ([`JobSpec`], for one [`submit`](crate::Engine::submit)). Both have
//! defaults that suit a laptop or a 2-core server, and both (de)serialise, so a service
//! can read them from a file or a request.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pagemill_core::ranges::PageRanges;
use pagemill_core::settings::{EraseSettings, OcrMode, OcrSettings, UpscaleModel, UpscaleSettings};
use pagemill_core::sink::SinkFactory;
use pagemill_export::Formats;
use serde::{Deserialize, Serialize};

/// Machine settings, fixed for the engine's life: how many workers, how much memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineConfig {
    /// Worker slots (processes, for the local transport). Default: the number of cores.
    pub workers: usize,
    /// Bytes that pages in flight — dispatched, or converted and waiting to be written —
    /// may hold, across every job. Default 512 MiB.
    pub memory_budget: u64,
    /// Each worker's limit on its data (heap and private mappings): a page that needs
    /// more fails with `memory` (after a retry at half the resolution) instead of the
    /// machine's OOM killer ending everything. Default: see
    /// [`EngineConfig::worker_memory_limit`].
    pub worker_memory: Option<u64>,
    /// The executable started as `EXE internal-worker` for each worker. Default: this
    /// process's own executable.
    pub worker_exe: Option<PathBuf>,
    /// Events each job's channel holds before a slow reader starts missing them (see
    /// [`JobEvent::Lagged`](crate::JobEvent::Lagged)).
    pub event_capacity: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_budget: 512 << 20,
            worker_memory: None,
            worker_exe: None,
            event_capacity: 1024,
        }
    }
}

/// The smallest default worker limit: a 300-dpi OCR page with Tesseract loaded peaks at
/// ~140 MB, an erased page at ~250 MB; 768 MiB leaves room for odd pages.
const MIN_WORKER_MEMORY: u64 = 768 << 20;

impl EngineConfig {
    /// The worker memory limit in force: the one set, else twice the budget per worker,
    /// at least 768 MiB.
    pub fn worker_memory_limit(&self) -> u64 {
        self.worker_memory.unwrap_or_else(|| {
            (self.memory_budget.saturating_mul(2) / self.workers.max(1) as u64)
                .max(MIN_WORKER_MEMORY)
        })
    }
}

/// One job: which documents, which pages, what to write, and the limits that protect the
/// machine from them.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct JobSpec {
    /// Files (PDFs, images) and directories (searched recursively for them).
    pub inputs: Vec<PathBuf>,
    /// Output directory; each input gets its own `OUTPUT/<name>/`.
    pub output: PathBuf,
    /// Pages to convert in each document.
    pub pages: PageRanges,
    /// What to write.
    pub formats: Formats,
    /// When and how pages are OCRed.
    pub ocr: OcrSettings,
    /// Resolution of the layout PDF's page pictures.
    pub layout_dpi: u32,
    /// Resolution of figure crops of drawings and OCR regions (images are cropped at
    /// their own resolution, within twice this).
    pub figure_dpi: u32,
    /// Text removal (`erase-text`; written when `formats.erased`).
    pub erase: Option<EraseSettings>,
    /// Upscaling of the pictures the job writes: the pages themselves (written when
    /// `formats.upscaled`, `pagemill upscale`), or the pages before their text is erased
    /// (`erase-text --upscale-output`).
    pub upscale: Option<UpscaleSettings>,
    /// User password for encrypted inputs. Never serialised.
    #[serde(skip_serializing)]
    pub password: Option<String>,
    /// A page still unfinished after this long fails with `timeout`.
    #[serde(with = "seconds")]
    pub page_timeout: Duration,
    /// Continue documents from the checkpoint a killed run left.
    pub resume: bool,
    /// Files larger than this are refused before anything reads them.
    pub max_file_size: Option<u64>,
    /// Documents with more pages than this are refused when opened.
    pub max_pages: Option<u32>,
    /// How outputs name each input (the JSON's `source`): as given (the CLI's paths), or
    /// by file name only (a service's uploads, whose paths on the server mean nothing to
    /// the client).
    pub source_label: SourceLabel,
    /// More consumers of every document's pages (an indexer, an extractor), after the
    /// file outputs. Not serialised: they are code, not settings.
    #[serde(skip)]
    pub sinks: Vec<Arc<dyn SinkFactory>>,
}

impl Default for JobSpec {
    fn default() -> Self {
        JobSpec {
            inputs: Vec::new(),
            output: PathBuf::from("out"),
            pages: PageRanges::all(),
            formats: Formats::default(),
            ocr: OcrSettings::default(),
            layout_dpi: 100,
            figure_dpi: 150,
            erase: None,
            upscale: None,
            password: None,
            page_timeout: Duration::from_secs(60),
            resume: false,
            max_file_size: Some(4 << 30),
            max_pages: Some(100_000),
            source_label: SourceLabel::AsGiven,
            sinks: Vec::new(),
        }
    }
}

impl fmt::Debug for JobSpec {
    /// Everything but the password (shown as set or not) and the sinks (counted).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobSpec")
            .field("inputs", &self.inputs)
            .field("output", &self.output)
            .field("pages", &self.pages.to_string())
            .field("formats", &self.formats)
            .field("ocr", &self.ocr)
            .field("layout_dpi", &self.layout_dpi)
            .field("figure_dpi", &self.figure_dpi)
            .field("erase", &self.erase)
            .field("upscale", &self.upscale)
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .field("page_timeout", &self.page_timeout)
            .field("resume", &self.resume)
            .field("max_file_size", &self.max_file_size)
            .field("max_pages", &self.max_pages)
            .field("source_label", &self.source_label)
            .field("sinks", &self.sinks.len())
            .finish()
    }
}

/// How outputs name an input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceLabel {
    /// The path as given.
    #[default]
    AsGiven,
    /// The file name only.
    FileName,
}

impl SourceLabel {
    /// The label of `path`.
    pub fn label(self, path: &std::path::Path) -> String {
        match self {
            SourceLabel::AsGiven => path.display().to_string(),
            SourceLabel::FileName => path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
        }
    }
}

impl JobSpec {
    /// Whether any page of this job may need Tesseract (so its languages are checked
    /// before the job starts).
    pub fn may_ocr(&self) -> bool {
        self.ocr.mode != OcrMode::Never || self.erase.is_some()
    }

    /// What a page of this job is priced at in the memory budget: `(text-layer page,
    /// OCR page)`.
    pub fn page_costs(&self) -> (u64, u64) {
        let upscale = self.upscale.as_ref();
        page_costs(
            &self.ocr,
            self.formats.erased,
            upscale.filter(|_| self.formats.erased || self.formats.upscaled.is_some()),
        )
    }
}

/// What a page is priced at in the memory budget, `(text-layer page, OCR page)`, given
/// how it is read, whether its text is erased, and how it is upscaled (if it is). A job
/// prices its pages with it, and so does a remote worker host, from the request alone.
pub fn page_costs(
    ocr: &OcrSettings,
    erased: bool,
    upscale: Option<&UpscaleSettings>,
) -> (u64, u64) {
    let (dpi, max_px) = (ocr.dpi, ocr.max_page_pixels);
    match (erased, upscale) {
        (true, Some(up)) => {
            // Everything the erasure holds, at the upscaled size, and the tiles' work.
            let s = u64::from(up.scale).pow(2);
            let c = erase_page_cost(dpi, max_px).saturating_mul(s) + tile_cost(up);
            (c, c)
        }
        (true, None) => {
            let c = erase_page_cost(dpi, max_px);
            (c, c)
        }
        (false, Some(up)) => {
            let c = upscale_page_cost(dpi, max_px, up);
            (c, c)
        }
        (false, None) => (TEXT_PAGE_COST, ocr_page_cost(dpi, max_px)),
    }
}

/// Estimated bytes one text-layer page holds in flight: the worker's working set for the
/// page plus its serialized result. Rough on purpose; results are re-priced at their real
/// size as they arrive.
pub const TEXT_PAGE_COST: u64 = 4 << 20;

/// Worker memory an OCR page takes beyond the worker's idle baseline (PDFium and
/// Tesseract loaded, 42 MB): a fixed part for Tesseract's recognition and layout data,
/// and a part per page pixel (the rendered page, its upright copy, Tesseract's copies).
/// Fitted to VmHWM of one worker on R-intro scans: 113.5 MB at 3.74 MP (200 dpi),
/// 134.6 MB at 8.4 MP (300 dpi).
const OCR_PAGE_BASE: u64 = 55 << 20;
/// See [`OCR_PAGE_BASE`].
const OCR_BYTES_PER_PIXEL: u64 = 5;

/// A US Letter page's pixels at `dpi`, capped by the largest page allowed.
fn letter_pixels(dpi: u32, max_page_pixels: u64) -> u64 {
    let letter = (8.5 * dpi as f64).ceil() as u64 * (11.0 * dpi as f64).ceil() as u64;
    letter.min(max_page_pixels)
}

/// What an OCR page is priced at: a US Letter page at the OCR resolution (capped by the
/// largest page allowed).
pub fn ocr_page_cost(dpi: u32, max_page_pixels: u64) -> u64 {
    OCR_PAGE_BASE + letter_pixels(dpi, max_page_pixels) * OCR_BYTES_PER_PIXEL
}

/// What a page of `erase-text` is priced at: an OCR page plus the page in colour (3 bytes
/// a pixel), its encoded copy and the erasure's bit masks (about 1 byte a pixel).
pub fn erase_page_cost(dpi: u32, max_page_pixels: u64) -> u64 {
    ocr_page_cost(dpi, max_page_pixels) + letter_pixels(dpi, max_page_pixels) * 4
}

/// Worker memory for one tile of upscaling beyond the worker's baseline: the network's
/// activations for a tile with its margins. Measured as peak RSS of
/// `examples/upscale_speed` with 128-pixel tiles: compact 57 MB, x4plus 454 MB (its dense
/// blocks keep many more channels alive); grows with the tile's area.
fn tile_cost(up: &UpscaleSettings) -> u64 {
    let per_tile: u64 = match up.model {
        UpscaleModel::Compact => 64 << 20,
        UpscaleModel::X4plus => 460 << 20,
        UpscaleModel::Lanczos => 12 << 20,
    };
    let area = (u64::from(up.tile.max(16)) + 40).pow(2);
    per_tile.saturating_mul(area) / (168 * 168)
}

/// What a page of `pagemill upscale` is priced at: the page's picture (a US Letter page
/// at the resolution, 3 bytes a pixel), a band of output as 32-bit values (a tile high,
/// 12 bytes an output pixel), and a tile's work. The output itself streams to a file.
pub fn upscale_page_cost(dpi: u32, max_page_pixels: u64, up: &UpscaleSettings) -> u64 {
    let pixels = letter_pixels(dpi, max_page_pixels);
    let width = (8.5 * dpi as f64).ceil() as u64;
    let s = u64::from(up.scale);
    let band = 12 * u64::from(up.tile) * s * width * s;
    pixels * 3 + band + tile_cost(up)
}

/// `Duration` as seconds (a float) in JSON and TOML.
mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip_without_the_password() {
        let spec = JobSpec {
            inputs: vec!["a.pdf".into()],
            pages: PageRanges::parse("2-3").unwrap(),
            password: Some("secret".into()),
            page_timeout: Duration::from_millis(1500),
            ..Default::default()
        };
        let json = serde_json::to_string(&spec).unwrap();
        assert!(!json.contains("secret"), "{json}");
        assert!(!format!("{spec:?}").contains("secret"));
        let back: JobSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back.pages, spec.pages);
        assert_eq!(back.page_timeout, spec.page_timeout);
        assert_eq!(back.password, None);
        // Every field has a default.
        let empty: JobSpec = serde_json::from_str("{}").unwrap();
        assert_eq!(empty.formats, Formats::default());
        let cfg: EngineConfig = serde_json::from_str(r#"{"workers": 3}"#).unwrap();
        assert_eq!(cfg.workers, 3);
        assert_eq!(cfg.memory_budget, 512 << 20);
    }

    #[test]
    fn worker_memory_defaults_to_twice_the_share_of_the_budget() {
        let cfg = EngineConfig {
            workers: 2,
            memory_budget: 2 << 30,
            ..Default::default()
        };
        assert_eq!(cfg.worker_memory_limit(), 2 << 30);
        let small = EngineConfig {
            workers: 8,
            ..Default::default()
        };
        assert_eq!(small.worker_memory_limit(), MIN_WORKER_MEMORY);
    }

    #[test]
    fn ocr_pages_cost_more_than_text_pages() {
        let spec = JobSpec::default();
        let (text, ocr) = spec.page_costs();
        assert!(ocr > 20 * text);
        let erase = JobSpec {
            formats: Formats {
                erased: true,
                ..Formats::none()
            },
            ..Default::default()
        };
        assert!(erase.page_costs().0 > ocr);
    }
}
