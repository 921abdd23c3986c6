//! `IN.ocr.pdf`: the input with an invisible text layer on every OCR page, so the pages
//! look exactly as before and `pdftotext` or a viewer's search finds the words where they
//! are.
//!
//! For an image input it is a new PDF, a page per image at the image's size: the image
//! (JPEG and JPEG 2000 passed through, other formats zlib-compressed) with the text layer
//! over it, written page by page like the layout PDF.
//!
//! For a PDF input this is an incremental update: the original bytes are copied as they
//! are (scanned image streams pass through untouched, born-digital pages keep their own
//! text), and for each OCR page, as soon as it is next in order, a text-layer stream and a
//! new version of the page object are appended. The font goes at the end, with the
//! cross-reference section. Memory holds one page's layer at a time plus an offset per
//! appended object.

use std::io::{self, Write};
use std::path::Path;

use pagemill_core::model::{OcrReason, Page, TextSource};
use pagemill_core::result::{deflate, PageImage};
use pagemill_core::PageOutcome;
use pagemill_pdf::raw::object::{Dict, Obj};
use pagemill_pdf::raw::{Original, PageObject, RawError, UpdateWriter};
use pdf_writer::{Chunk, Filter, Ref};

use crate::invisible_text::{page_content, FontIds, GlyphlessFont, PageFrame};
use crate::pdf_file::PdfFile;

/// Why a searchable PDF cannot be written for a document.
#[derive(Debug, thiserror::Error)]
pub enum SearchableError {
    /// The input's structure could not be read for an update.
    #[error("cannot add a text layer to this PDF ({0}); the other outputs are written")]
    Structure(#[from] RawError),
    /// Writing failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Objects shared by every text page of an update, numbered at the first one.
#[derive(Debug, Clone, Copy)]
struct Shared {
    /// The `q` stream put before a page's own content.
    save: u32,
    font: FontIds,
}

/// Where the pages go.
enum Target<W: Write> {
    /// A PDF input: an incremental update of its bytes.
    Update {
        original: Box<Original>,
        update: UpdateWriter<W>,
        shared: Option<Shared>,
    },
    /// Image inputs: a new PDF, a page per image.
    Fresh { file: PdfFile<W>, pages: i32 },
}

/// Font objects of a new PDF (1 and 2 are the catalog and page tree).
const FRESH_FONT: FontIds = FontIds {
    font: Ref::new(3),
    cid_font: Ref::new(4),
    descriptor: Ref::new(5),
    file: Ref::new(6),
    cid_to_gid: Ref::new(7),
    to_unicode: Ref::new(8),
};
/// First page object of a new PDF; each page has three (page, content, image).
const FRESH_FIRST_PAGE: i32 = 9;
/// Font resource name in a new PDF.
const FRESH_FONT_NAME: &[u8] = b"PmOcr";

/// Writes the searchable PDF of one input, page by page.
pub struct SearchablePdfWriter<W: Write> {
    target: Target<W>,
    font: GlyphlessFont,
}

/// Whether `page` gets a text layer: OCR pages with text, except those that had an
/// invisible layer already (an earlier OCR), which keep theirs. Two layers would give
/// every word twice to search and copy, and taking the old one out means rewriting the
/// page's content streams.
fn needs_layer(page: &Page) -> bool {
    page.source == TextSource::Ocr
        && page.ocr_reason != Some(OcrReason::InvisibleText)
        && page.blocks.iter().any(|b| !b.lines.is_empty())
}

impl<W: Write> SearchablePdfWriter<W> {
    /// For a PDF input: copies `input` into `out`; pages are then given to
    /// [`page`](Self::page) in order.
    pub fn for_pdf(input: &Path, out: W) -> Result<Self, SearchableError> {
        let original = Original::open(input, usize::MAX)?;
        let update = UpdateWriter::start(&original, out)?;
        Ok(SearchablePdfWriter {
            target: Target::Update {
                original: Box::new(original),
                update,
                shared: None,
            },
            font: GlyphlessFont::default(),
        })
    }

    /// For an image input: a new PDF with a page per image, each carrying its image
    /// (passed to [`page`](Self::page)) and the text layer.
    pub fn for_images(out: W) -> io::Result<Self> {
        Ok(SearchablePdfWriter {
            target: Target::Fresh {
                file: PdfFile::new(out)?,
                pages: 0,
            },
            font: GlyphlessFont::default(),
        })
    }

    /// Adds the next page. A PDF input's page gets its text layer when it was OCRed (a
    /// page whose object cannot be read keeps its looks without one, logged); an image
    /// input's page is written with `image`, whatever became of its text.
    pub fn page(&mut self, outcome: &PageOutcome, image: Option<&PageImage>) -> io::Result<()> {
        match &mut self.target {
            Target::Update {
                original,
                update,
                shared,
            } => {
                let PageOutcome::Ok(page) = outcome else {
                    return Ok(());
                };
                if !needs_layer(page) {
                    return Ok(());
                }
                match original.page(page.index as usize) {
                    Ok(object) => add_layer(original, update, shared, &mut self.font, page, object),
                    Err(e) => {
                        tracing::warn!(page = page.index + 1, "no text layer for this page: {e}");
                        Ok(())
                    }
                }
            }
            Target::Fresh { file, pages } => {
                let base = FRESH_FIRST_PAGE + *pages * 3;
                *pages += 1;
                fresh_page(file, base, &mut self.font, outcome, image)
            }
        }
    }

    /// Writes the font and the cross-reference section; returns the output.
    pub fn finish(self) -> io::Result<W> {
        match self.target {
            Target::Update { update, shared, .. } => {
                let mut update = update;
                if let Some(shared) = shared {
                    for (id, chunk) in self.font.write(shared.font) {
                        put(&mut update, id, &chunk)?;
                    }
                }
                update.finish().map_err(|e| match e {
                    RawError::Io(e) => e,
                    other => io::Error::other(other.to_string()),
                })
            }
            Target::Fresh { mut file, pages } => {
                for (id, chunk) in self.font.write(FRESH_FONT) {
                    file.put(id, &chunk)?;
                }
                file.finish((0..pages).map(|i| Ref::new(FRESH_FIRST_PAGE + i * 3)))
            }
        }
    }
}

fn put<W: Write>(update: &mut UpdateWriter<W>, id: Ref, chunk: &Chunk) -> io::Result<()> {
    update.write_raw(id.get() as u32, 0, chunk.as_bytes())
}

/// Numbers the shared objects of an update at its first text page, writing the `q`
/// stream; the font follows at the end, once every character is known.
fn shared_objects<W: Write>(
    update: &mut UpdateWriter<W>,
    shared: &mut Option<Shared>,
) -> io::Result<Shared> {
    if let Some(s) = *shared {
        return Ok(s);
    }
    let mut r = || Ref::new(update.reserve() as i32);
    let (save, font) = (r(), r());
    let (cid_font, descriptor, file) = (r(), r(), r());
    let (cid_to_gid, to_unicode) = (r(), r());
    let mut chunk = Chunk::new();
    chunk.stream(save, b"q\n");
    put(update, save, &chunk)?;
    let s = Shared {
        save: save.get() as u32,
        font: FontIds {
            font,
            cid_font,
            descriptor,
            file,
            cid_to_gid,
            to_unicode,
        },
    };
    *shared = Some(s);
    Ok(s)
}

/// Appends `page`'s text layer and the new version of its page object.
fn add_layer<W: Write>(
    original: &Original,
    update: &mut UpdateWriter<W>,
    shared: &mut Option<Shared>,
    font: &mut GlyphlessFont,
    page: &Page,
    object: PageObject,
) -> io::Result<()> {
    let shared = shared_objects(update, shared)?;
    let mut resources = object.resources;
    let mut fonts = match resources.get(b"Font").map(|f| original.resolve(f)) {
        Some(Ok(Obj::Dict(d))) => d,
        _ => Dict::default(),
    };
    let name = free_name(&fonts);
    fonts.set(&name, Obj::Ref(shared.font.font.get() as u32, 0));
    resources.set(b"Font", Obj::Dict(fonts));

    let frame = PageFrame {
        visible: object.visible.map(|v| v as f32),
        rotate: object.rotate,
    };
    let content = page_content(page, &frame, font, &name);
    let layer = Ref::new(update.reserve() as i32);
    let mut chunk = Chunk::new();
    chunk
        .stream(layer, &deflate(&content))
        .filter(Filter::FlateDecode);
    put(update, layer, &chunk)?;

    let mut contents = Vec::with_capacity(object.contents.len() + 2);
    contents.push(Obj::Ref(shared.save, 0));
    contents.extend(object.contents);
    contents.push(Obj::Ref(layer.get() as u32, 0));
    let mut dict = object.dict;
    dict.set(b"Contents", Obj::Array(contents));
    dict.set(b"Resources", Obj::Dict(resources));
    update.write_dict(object.id, dict)
}

/// Writes a new PDF's page `base` (content `base + 1`, image `base + 2`).
fn fresh_page<W: Write>(
    file: &mut PdfFile<W>,
    base: i32,
    font: &mut GlyphlessFont,
    outcome: &PageOutcome,
    image: Option<&PageImage>,
) -> io::Result<()> {
    let (page_id, content_id, image_id) = (Ref::new(base), Ref::new(base + 1), Ref::new(base + 2));
    let (w, h) = match (outcome, image) {
        (PageOutcome::Ok(p), _) if p.width > 0.0 && p.height > 0.0 => (p.width, p.height),
        // A failed page: its pixels as points.
        (_, Some(img)) => (img.width as f32, img.height as f32),
        _ => (612.0, 792.0),
    };
    let mut content = String::from("q\n");
    if let Some(img) = image {
        content.push_str(&format!("{w} 0 0 {h} 0 0 cm\n/Im0 Do\n"));
        file.put_image(image_id, img)?;
    }
    let mut content = content.into_bytes();
    match outcome {
        PageOutcome::Ok(page) if needs_layer(page) => {
            let frame = PageFrame {
                visible: [0.0, 0.0, w, h],
                rotate: 0,
            };
            // It starts with the `Q` that closes the `q` above.
            content.extend(page_content(page, &frame, font, FRESH_FONT_NAME));
        }
        _ => content.extend_from_slice(b"Q\n"),
    }
    let mut chunk = Chunk::new();
    chunk
        .stream(content_id, &deflate(&content))
        .filter(Filter::FlateDecode);
    file.put(content_id, &chunk)?;

    file.put_page(
        page_id,
        content_id,
        (w, h),
        (FRESH_FONT_NAME, FRESH_FONT.font),
        image.map(|_| image_id),
    )
}

/// A font resource name not used by the page yet.
fn free_name(fonts: &Dict) -> Vec<u8> {
    let mut name = b"PmOcr".to_vec();
    let mut n = 0;
    while fonts.get(&name).is_some() {
        n += 1;
        name = format!("PmOcr{n}").into_bytes();
    }
    name
}
