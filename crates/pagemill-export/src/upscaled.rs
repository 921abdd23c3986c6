//! The outputs of `pagemill upscale`: the document's pages made larger, and a report.
//!
//! - `IN.xN.png` for a one-page image input (N the scale);
//! - `IN.xN.pdf` for PDF inputs and multi-page images: a page per input page, the same
//!   size in points, holding the upscaled picture;
//! - `IN.upscale.json`: per page, the model, scale, sizes before and after, tiles and
//!   milliseconds (schema `pagemill.upscale/1`).
//!
//! The pictures arrive as PNG files the workers wrote into [`UPSCALED_DIR`] (too large for
//! a frame). A one-page output is copied from it; a PDF page takes the PNG's compressed
//! data as it is — PNG's `IDAT` stream is zlib data with a filter byte a row, which a PDF
//! reads with `/FlateDecode` and `/Predictor 15` — so nothing is decoded or compressed
//! again and nothing larger than a copy buffer is held. The files are removed when the
//! document's outputs are complete (a run resumed after a kill still finds them).

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pagemill_core::model::DocInfo;
use pagemill_core::result::{erased_as_pdf, UpscaledPage};
use pagemill_core::sink::{DocumentMeta, PageSink, SinkError};
use pagemill_core::{PageOutcome, PageResult};
use serde_json::json;

use crate::output::{OutputFile, OutputLocation};
use crate::pdf_file::PdfFile;
use crate::picture_pdf::{PageReport, PicturePdf};

/// Schema name and version of `IN.upscale.json`.
pub const UPSCALE_SCHEMA: &str = "pagemill.upscale/1";

/// Where the workers put upscaled pages, under the document's output directory.
pub const UPSCALED_DIR: &str = ".pagemill-upscaled";

/// Where the pages go.
enum Pages {
    /// One image file, written when its page arrives.
    File,
    /// A PDF, a page at a time.
    Pdf(PicturePdf),
}

/// Writes the upscaled document and its report.
pub struct UpscaledWriter {
    location: Arc<dyn OutputLocation>,
    name: String,
    pages: Pages,
    report: PageReport,
}

impl UpscaledWriter {
    /// Starts the outputs in `location` for document `stem` upscaled by `scale`
    /// (`source` is named in the report).
    pub fn new(
        location: Arc<dyn OutputLocation>,
        stem: &str,
        source: &str,
        info: &DocInfo,
        scale: u8,
    ) -> io::Result<Self> {
        let name = format!("{stem}.x{scale}");
        let pages = if erased_as_pdf(info.kind, info.page_count) {
            Pages::Pdf(PicturePdf::create(&location, &format!("{name}.pdf"))?)
        } else {
            Pages::File
        };
        let report = PageReport::create(
            &location,
            &format!("{stem}.upscale.json"),
            UPSCALE_SCHEMA,
            source,
            &format!("\"scale\":{scale},"),
        )?;
        Ok(UpscaledWriter {
            location,
            name,
            pages,
            report,
        })
    }

    /// Writes one page: its picture (a marked blank page in the PDF when it failed) and
    /// its line of the report.
    pub fn page(&mut self, outcome: &PageOutcome, up: Option<&UpscaledPage>) -> io::Result<()> {
        self.report_page(outcome, up)?;
        match &mut self.pages {
            Pages::File => {
                let Some(up) = up else { return Ok(()) };
                let mut out = self.location.create(&format!("{}.png", self.name))?;
                io::copy(&mut File::open(&up.file)?, &mut out)?;
                out.flush()
            }
            Pages::Pdf(pdf) => match up {
                Some(up) => pdf_picture(pdf, up),
                None => pdf.marked_page(outcome, "not upscaled"),
            },
        }
    }

    fn report_page(&mut self, outcome: &PageOutcome, up: Option<&UpscaledPage>) -> io::Result<()> {
        let line = match (outcome, up) {
            (PageOutcome::Ok(p), Some(u)) => json!({
                "index": p.index,
                "status": "ok",
                "model": u.model.as_str(),
                "scale": u.scale,
                "width": u.width,
                "height": u.height,
                "source_width": u.source_width,
                "source_height": u.source_height,
                "tiles": u.tiles,
                "ms": u.ms,
            }),
            _ => PageReport::failure(outcome, "no upscaled picture came back for this page"),
        };
        self.report.line(&line)
    }

    /// Completes the files.
    pub fn finish(self) -> io::Result<()> {
        self.report.finish()?;
        if let Pages::Pdf(pdf) = self.pages {
            pdf.finish()?;
        }
        Ok(())
    }
}

/// A PNG file's compressed pixels: where its `IDAT` chunks are, and what they hold.
struct PngData {
    width: u32,
    height: u32,
    gray: bool,
    /// (offset, length) of each `IDAT` chunk's data.
    chunks: Vec<(u64, u64)>,
}

impl PngData {
    fn len(&self) -> u64 {
        self.chunks.iter().map(|c| c.1).sum()
    }
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Reads the chunk headers of the PNG at `path` (8-bit gray or RGB, not interlaced: what
/// the workers write).
fn png_data(path: &Path) -> io::Result<PngData> {
    let mut r = BufReader::new(File::open(path)?);
    let mut sig = [0u8; 8];
    r.read_exact(&mut sig)?;
    if &sig != b"\x89PNG\r\n\x1a\n" {
        return Err(invalid(format!("{} is not a PNG file", path.display())));
    }
    let mut pos = 8u64;
    let mut header = None;
    let mut chunks = Vec::new();
    loop {
        let mut head = [0u8; 8];
        r.read_exact(&mut head)?;
        let len = u64::from(u32::from_be_bytes([head[0], head[1], head[2], head[3]]));
        let kind = &head[4..8];
        let data_at = pos + 8;
        match kind {
            b"IHDR" => {
                let mut ihdr = [0u8; 13];
                r.read_exact(&mut ihdr)?;
                r.seek_relative(len as i64 - 13 + 4)?;
                let (depth, colour, interlace) = (ihdr[8], ihdr[9], ihdr[12]);
                if depth != 8 || !(colour == 0 || colour == 2) || interlace != 0 {
                    return Err(invalid(format!(
                        "{}: only 8-bit gray or RGB PNGs without interlacing go into a PDF",
                        path.display()
                    )));
                }
                let w = u32::from_be_bytes([ihdr[0], ihdr[1], ihdr[2], ihdr[3]]);
                let h = u32::from_be_bytes([ihdr[4], ihdr[5], ihdr[6], ihdr[7]]);
                header = Some((w, h, colour == 0));
            }
            b"IEND" => break,
            b"IDAT" => {
                chunks.push((data_at, len));
                r.seek_relative(len as i64 + 4)?;
            }
            _ => r.seek_relative(len as i64 + 4)?,
        }
        pos = data_at + len + 4;
    }
    let (width, height, gray) =
        header.ok_or_else(|| invalid(format!("{}: no PNG header", path.display())))?;
    Ok(PngData {
        width,
        height,
        gray,
        chunks,
    })
}

/// Adds a page holding the upscaled picture: the PNG's compressed data as the image's
/// stream.
fn pdf_picture(pdf: &mut PicturePdf, up: &UpscaledPage) -> io::Result<()> {
    let png = png_data(&up.file)?;
    let size = (up.width_pt.max(1.0), up.height_pt.max(1.0));
    pdf.picture_page(size, |file: &mut PdfFile<OutputFile>, id| {
        let colours = if png.gray { 1 } else { 3 };
        let entries = format!(
            " /Type /XObject /Subtype /Image /Width {} /Height {} /ColorSpace /{} \
             /BitsPerComponent 8 /Filter /FlateDecode /DecodeParms << /Predictor 15 \
             /Colors {colours} /BitsPerComponent 8 /Columns {} >>",
            png.width,
            png.height,
            if png.gray { "DeviceGray" } else { "DeviceRGB" },
            png.width
        );
        let mut src = File::open(&up.file)?;
        file.put_stream(id, &entries, png.len(), |out| {
            for &(at, len) in &png.chunks {
                src.seek(SeekFrom::Start(at))?;
                io::copy(&mut (&mut src).take(len), out)?;
            }
            Ok(())
        })
    })
}

/// [`UpscaledWriter`] as a page sink, which also removes the workers' files once the
/// document is complete (or abandoned).
pub struct UpscaledSink {
    location: Arc<dyn OutputLocation>,
    scale: u8,
    writer: Option<UpscaledWriter>,
    files: Vec<PathBuf>,
}

impl UpscaledSink {
    /// A sink writing pages upscaled by `scale` into `location`.
    pub fn new(location: Arc<dyn OutputLocation>, scale: u8) -> Self {
        UpscaledSink {
            location,
            scale,
            writer: None,
            files: Vec::new(),
        }
    }

    /// Removes the workers' files, and their directory once empty.
    fn remove_files(&mut self) {
        for f in self.files.drain(..) {
            let _ = std::fs::remove_file(&f);
            if let Some(dir) = f.parent() {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

impl PageSink for UpscaledSink {
    fn begin(&mut self, doc: &DocumentMeta) -> Result<(), SinkError> {
        self.writer = Some(UpscaledWriter::new(
            Arc::clone(&self.location),
            &doc.stem,
            &doc.source,
            &doc.info,
            self.scale,
        )?);
        Ok(())
    }

    fn page(&mut self, page: &PageResult) -> Result<(), SinkError> {
        if let Some(up) = &page.upscaled {
            self.files.push(up.file.clone());
        }
        if let Some(w) = &mut self.writer {
            w.page(&page.outcome, page.upscaled.as_ref())?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<Vec<PathBuf>, SinkError> {
        if let Some(w) = self.writer.take() {
            w.finish()?;
        }
        self.remove_files();
        Ok(Vec::new())
    }

    fn abort(&mut self) {
        self.writer = None;
        self.remove_files();
    }
}
