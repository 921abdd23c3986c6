//! A PDF file written object by object: each object goes to the output the moment it is
//! complete (one `pdf_writer::Chunk` per object, so its offset is the file position then),
//! and the page tree, catalog and cross-reference table close the file. Only the offsets
//! table (a number per object) stays in memory.

use std::io::{self, Write};

use pagemill_core::result::{ImageColour, ImageEncoding, PageImage};
use pdf_writer::{Chunk, Content, Filter, Finish, Name, Rect, Ref, Str};

/// Object number of the catalog.
pub(crate) const CATALOG: Ref = Ref::new(1);
/// Object number of the page tree.
pub(crate) const PAGES: Ref = Ref::new(2);

/// Writes `label` in red 14-pt Helvetica (resource `F1`) at (`x`, `y`): how both PDF
/// writers mark a page that failed.
pub(crate) fn failure_label(content: &mut Content, label: &str, x: f32, y: f32) {
    content.begin_text();
    content.set_font(Name(b"F1"), 14.0);
    content.set_fill_rgb(0.85, 0.1, 0.1);
    content.next_line(x, y);
    content.show(Str(label.as_bytes()));
    content.end_text();
}

/// A PDF being written.
pub(crate) struct PdfFile<W: Write> {
    out: W,
    /// Bytes written so far (the next object's offset).
    pos: usize,
    /// Offset of every object, by number − 1 (0: never written).
    offsets: Vec<usize>,
}

impl<W: Write> PdfFile<W> {
    /// Starts the file with its header.
    pub(crate) fn new(mut out: W) -> io::Result<Self> {
        let header = b"%PDF-1.7\n%\xc2\xb5\xc2\xb6\n";
        out.write_all(header)?;
        Ok(PdfFile {
            out,
            pos: header.len(),
            offsets: Vec::new(),
        })
    }

    /// Writes `chunk`, which holds object `id` alone.
    pub(crate) fn put(&mut self, id: Ref, chunk: &Chunk) -> io::Result<()> {
        let n = id.get() as usize;
        if self.offsets.len() < n {
            self.offsets.resize(n, 0);
        }
        self.offsets[n - 1] = self.pos;
        self.out.write_all(chunk.as_bytes())?;
        self.pos += chunk.len();
        Ok(())
    }

    /// Writes `image` as image XObject `id`, its stream as it came (JPEG, JPEG 2000 or
    /// zlib-compressed samples).
    pub(crate) fn put_image(&mut self, id: Ref, image: &PageImage) -> io::Result<()> {
        let mut chunk = Chunk::new();
        let mut x = chunk.image_xobject(id, &image.data);
        x.width(image.width as i32).height(image.height as i32);
        x.filter(match image.encoding {
            ImageEncoding::Jpeg => Filter::DctDecode,
            ImageEncoding::Jpeg2000 => Filter::JpxDecode,
            ImageEncoding::Flate => Filter::FlateDecode,
        });
        match image.colour {
            Some(ImageColour::Gray) => {
                x.color_space().device_gray();
            }
            Some(ImageColour::Rgb) => {
                x.color_space().device_rgb();
            }
            None => {}
        }
        // A JPEG 2000 stream names its own depth.
        if image.encoding != ImageEncoding::Jpeg2000 {
            x.bits_per_component(8);
        }
        x.finish();
        self.put(id, &chunk)
    }

    /// Writes stream object `id` whose dictionary holds `entries` (`/Key value` pairs,
    /// without `/Length`) and whose `len` bytes `body` writes: for streams too large to
    /// hold in memory, copied from a file.
    pub(crate) fn put_stream(
        &mut self,
        id: Ref,
        entries: &str,
        len: u64,
        body: impl FnOnce(&mut W) -> io::Result<()>,
    ) -> io::Result<()> {
        let n = id.get() as usize;
        if self.offsets.len() < n {
            self.offsets.resize(n, 0);
        }
        self.offsets[n - 1] = self.pos;
        let head = format!("{} 0 obj\n<<{entries} /Length {len}>>\nstream\n", id.get());
        let tail = b"\nendstream\nendobj\n\n";
        self.out.write_all(head.as_bytes())?;
        body(&mut self.out)?;
        self.out.write_all(tail)?;
        self.pos += head.len() + len as usize + tail.len();
        Ok(())
    }

    /// Writes page object `id` of `width`×`height` points drawn by `content`, with one
    /// font resource and, when given, one image (`/Im0`).
    pub(crate) fn put_page(
        &mut self,
        id: Ref,
        content: Ref,
        (width, height): (f32, f32),
        (font_name, font): (&[u8], Ref),
        image: Option<Ref>,
    ) -> io::Result<()> {
        let mut chunk = Chunk::new();
        let mut page = chunk.page(id);
        page.parent(PAGES)
            .media_box(Rect::new(0.0, 0.0, width, height))
            .contents(content);
        let mut res = page.resources();
        res.fonts().pair(Name(font_name), font);
        if let Some(image) = image {
            res.x_objects().pair(Name(b"Im0"), image);
        }
        res.finish();
        page.finish();
        self.put(id, &chunk)
    }

    /// Writes the page tree of `kids`, the catalog and the cross-reference table.
    pub(crate) fn finish(mut self, kids: impl IntoIterator<Item = Ref>) -> io::Result<W> {
        let kids: Vec<Ref> = kids.into_iter().collect();
        let mut chunk = Chunk::new();
        chunk.pages(PAGES).count(kids.len() as i32).kids(kids);
        self.put(PAGES, &chunk)?;
        let mut chunk = Chunk::new();
        chunk
            .indirect(CATALOG)
            .dict()
            .pair(Name(b"Type"), Name(b"Catalog"))
            .pair(Name(b"Pages"), PAGES);
        self.put(CATALOG, &chunk)?;

        // Objects never written (a failed page's picture) are free entries.
        let xref = self.pos;
        let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", self.offsets.len() + 1);
        for &o in &self.offsets {
            if o == 0 {
                table.push_str("0000000000 65535 f \n");
            } else {
                table.push_str(&format!("{o:010} 00000 n \n"));
            }
        }
        table.push_str(&format!(
            "trailer\n<< /Size {} /Root {} 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            self.offsets.len() + 1,
            CATALOG.get()
        ));
        self.out.write_all(table.as_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}
