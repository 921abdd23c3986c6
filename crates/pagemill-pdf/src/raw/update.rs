//! Writing an incremental update: the original file copied byte for byte, then new objects
//! and new versions of existing ones, then a cross-reference section chained to the
//! original's by `/Prev`.
//!
//! Why an update rather than a rewrite: every original object (scanned image streams,
//! fonts, a born-digital page's own text) stays exactly as it was, so nothing is decoded,
//! re-encoded or held in memory; only the objects that change are appended, one at a time.

use std::io::{self, Write};
use std::path::Path;

use super::object::{write_obj, Dict, Obj};
use super::{PageRef, RawError, Walker, Xref, MAX_TREE_DEPTH};

/// Keys a page inherits from its ancestors in the page tree.
const INHERITED: [&[u8]; 4] = [b"Resources", b"MediaBox", b"CropBox", b"Rotate"];

/// An original PDF opened for an update: its index and page objects.
pub struct Original {
    pub(super) xref: Xref,
    pub(super) pages: Vec<PageRef>,
    pub(super) catalog: Dict,
    pub(super) size: u32,
}

/// One page object as the update needs it: its dictionary and the inherited attributes
/// resolved.
#[derive(Debug, Clone)]
pub struct PageObject {
    /// Object number and generation.
    pub id: PageRef,
    /// The page dictionary as written.
    pub dict: Dict,
    /// The effective resources (own or inherited, references resolved one level); empty
    /// when there are none.
    pub resources: Dict,
    /// The content streams, in order (references).
    pub contents: Vec<Obj>,
    /// The visible area in user space: `[left, bottom, right, top]` (crop box clipped to
    /// the media box).
    pub visible: [f64; 4],
    /// `/Rotate`, normalised to 0, 90, 180 or 270.
    pub rotate: u16,
}

fn number(o: &Obj) -> Option<f64> {
    match o {
        Obj::Int(i) => Some(*i as f64),
        Obj::Real(r) if r.is_finite() => Some(*r),
        _ => None,
    }
}

impl Original {
    /// Reads the index and page tree of `path` (at most `max_pages` pages).
    pub fn open(path: &Path, max_pages: usize) -> Result<Self, RawError> {
        let xref = Xref::open(path)?;
        let (root, _) = xref
            .trailer
            .get(b"Root")
            .and_then(Obj::as_ref)
            .ok_or(RawError::Damaged("no /Root"))?;
        let catalog = match xref.object(root)? {
            Obj::Dict(d) => d,
            _ => return Err(RawError::Damaged("catalog is not a dictionary")),
        };
        let pages_ref = catalog
            .get(b"Pages")
            .and_then(Obj::as_ref)
            .ok_or(RawError::Damaged("no /Pages"))?;
        let size = xref.trailer_size()?;
        let mut walker = Walker {
            xref: &xref,
            pages: Vec::new(),
            seen: Default::default(),
            max_pages,
        };
        walker.walk(pages_ref.0, xref.object(pages_ref.0)?, 0)?;
        let pages = walker.pages;
        Ok(Original {
            xref,
            pages,
            catalog,
            size,
        })
    }

    /// Number of pages.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Resolves `obj` if it is a reference (one level; references inside stay).
    pub fn resolve(&self, obj: &Obj) -> Result<Obj, RawError> {
        match obj {
            Obj::Ref(n, _) => self.xref.object(*n),
            other => Ok(other.clone()),
        }
    }

    /// Page `index` (0-based) with its inherited attributes resolved.
    pub fn page(&self, index: usize) -> Result<PageObject, RawError> {
        let id = *self
            .pages
            .get(index)
            .ok_or(RawError::Damaged("page index out of range"))?;
        let dict = match self.xref.object(id.0)? {
            Obj::Dict(d) => d,
            _ => return Err(RawError::Damaged("page is not a dictionary")),
        };
        // Own values first, then each ancestor's for the keys still missing.
        let mut found: [Option<Obj>; 4] = Default::default();
        let mut node = Some(dict.clone());
        let mut depth = 0;
        while let Some(d) = node.take() {
            for (slot, key) in found.iter_mut().zip(INHERITED) {
                if slot.is_none() {
                    *slot = d.get(key).cloned();
                }
            }
            depth += 1;
            if found.iter().all(Option::is_some) || depth > MAX_TREE_DEPTH {
                break;
            }
            if let Some((parent, _)) = d.get(b"Parent").and_then(Obj::as_ref) {
                node = self.xref.object(parent)?.as_dict().cloned();
            }
        }
        let [resources, media, crop, rotate] = found;
        let resources = match resources {
            Some(r) => match self.resolve(&r)? {
                Obj::Dict(d) => d,
                _ => Dict::default(),
            },
            None => Dict::default(),
        };
        let rect = |o: Option<Obj>| -> Result<Option<[f64; 4]>, RawError> {
            let Some(o) = o else { return Ok(None) };
            let Obj::Array(items) = self.resolve(&o)? else {
                return Ok(None);
            };
            if items.len() != 4 {
                return Ok(None);
            }
            let mut v = [0.0; 4];
            for (slot, item) in v.iter_mut().zip(&items) {
                match number(&self.resolve(item)?) {
                    Some(n) => *slot = n,
                    None => return Ok(None),
                }
            }
            // Any two corners: normalise to left, bottom, right, top.
            Ok(Some([
                v[0].min(v[2]),
                v[1].min(v[3]),
                v[0].max(v[2]),
                v[1].max(v[3]),
            ]))
        };
        // Letter, as PDFium assumes when a page has no usable media box.
        let media = rect(media)?.unwrap_or([0.0, 0.0, 612.0, 792.0]);
        let visible = match rect(crop)? {
            Some(c) => {
                let v = [
                    c[0].max(media[0]),
                    c[1].max(media[1]),
                    c[2].min(media[2]),
                    c[3].min(media[3]),
                ];
                if v[0] < v[2] && v[1] < v[3] {
                    v
                } else {
                    media
                }
            }
            None => media,
        };
        let rotate = match rotate {
            Some(r) => number(&self.resolve(&r)?).unwrap_or(0.0) as i64,
            None => 0,
        };
        // Like PDFium: quarter turns, negative values counted backwards.
        let rotate = ((rotate / 90).rem_euclid(4) * 90) as u16;
        let contents = match dict.get(b"Contents") {
            None => Vec::new(),
            Some(c @ Obj::Ref(n, _)) => match self.xref.object(*n)? {
                // An indirect array of streams.
                Obj::Array(items) => items,
                _ => vec![c.clone()],
            },
            Some(Obj::Array(items)) => items.clone(),
            Some(_) => return Err(RawError::Damaged("page /Contents is not a stream")),
        };
        Ok(PageObject {
            id,
            dict,
            resources,
            contents,
            visible,
            rotate,
        })
    }
}

/// Appends an incremental update to a copy of an original PDF.
pub struct UpdateWriter<W: Write> {
    out: W,
    /// Bytes written so far: the next object's offset.
    pos: u64,
    /// Objects written: number, generation, offset.
    entries: Vec<(u32, u16, u64)>,
    next_num: u32,
    prev: u64,
    newest_is_stream: bool,
    trailer: Dict,
}

impl<W: Write> UpdateWriter<W> {
    /// Copies `original`'s file to `out` and prepares to append.
    pub fn start(original: &Original, mut out: W) -> Result<Self, RawError> {
        let mut pos = original.xref.copy_file_to(&mut out)?;
        // Objects must start on a line of their own.
        out.write_all(b"\n")?;
        pos += 1;
        let mut trailer = Dict::default();
        for key in [&b"Root"[..], b"Info", b"ID"] {
            if let Some(v) = original.xref.trailer.get(key) {
                trailer.set(key, v.clone());
            }
        }
        Ok(UpdateWriter {
            out,
            pos,
            entries: Vec::new(),
            next_num: original.size,
            prev: original.xref.start,
            newest_is_stream: original.xref.newest_is_stream,
            trailer,
        })
    }

    /// A new object number.
    pub fn reserve(&mut self) -> u32 {
        let n = self.next_num;
        self.next_num += 1;
        n
    }

    /// Writes one complete object (`num gen obj … endobj`) whose text is `bytes`.
    pub fn write_raw(&mut self, num: u32, gen: u16, bytes: &[u8]) -> io::Result<()> {
        self.entries.push((num, gen, self.pos));
        self.out.write_all(bytes)?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    /// Writes `dict` as object `id` (a new version of an existing object, or a new one).
    pub fn write_dict(&mut self, id: PageRef, dict: Dict) -> io::Result<()> {
        let mut text = format!("{} {} obj\n", id.0, id.1);
        write_obj(&Obj::Dict(dict), &mut text);
        text.push_str("\nendobj\n");
        self.write_raw(id.0, id.1, text.as_bytes())
    }

    /// Writes the cross-reference section and trailer; returns the output.
    pub fn finish(mut self) -> Result<W, RawError> {
        if self.entries.is_empty() {
            // Nothing changed: the copy is the document.
            self.out.flush()?;
            return Ok(self.out);
        }
        let xref_num = self.newest_is_stream.then(|| self.reserve());
        let section = xref_section(
            &mut self.entries,
            self.pos,
            xref_num,
            self.next_num,
            self.prev,
            self.trailer,
        );
        self.out.write_all(&section)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// The cross-reference section that ends an in-memory update whose objects are
/// numbered below `next_free`: of the same kind as the newest original section (the
/// stream, when there is one, takes number `next_free`).
pub(crate) fn closing_section(
    entries: &mut Vec<(u32, u16, u64)>,
    at: u64,
    next_free: u32,
    newest_is_stream: bool,
    prev: u64,
    trailer: Dict,
) -> Vec<u8> {
    let (stream_num, size) = if newest_is_stream {
        (Some(next_free), next_free + 1)
    } else {
        (None, next_free)
    };
    xref_section(entries, at, stream_num, size, prev, trailer)
}

/// A cross-reference section at offset `at` listing `entries`, with its trailer: a
/// classic table, or (when `stream_num` is given) a cross-reference stream of that number,
/// which must match the kind of the section `/Prev` names or PDFium abandons the chain
/// and rebuilds by scanning the whole file.
pub(crate) fn xref_section(
    entries: &mut Vec<(u32, u16, u64)>,
    at: u64,
    stream_num: Option<u32>,
    size: u32,
    prev: u64,
    mut trailer: Dict,
) -> Vec<u8> {
    if let Some(n) = stream_num {
        entries.push((n, 0, at));
    }
    // An object written twice counts as its last version.
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)));
    entries.dedup_by_key(|e| e.0);
    // Runs of consecutive numbers: (first, count).
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &(num, _, _) in entries.iter() {
        match runs.last_mut() {
            Some((first, count)) if *first + *count == num => *count += 1,
            _ => runs.push((num, 1)),
        }
    }
    trailer.set(b"Size", Obj::Int(i64::from(size)));
    trailer.set(b"Prev", Obj::Int(prev as i64));
    let mut out = Vec::new();
    match stream_num {
        Some(n) => {
            let mut rows = Vec::with_capacity(entries.len() * 11);
            for &(_, gen, off) in entries.iter() {
                rows.push(1u8);
                rows.extend_from_slice(&off.to_be_bytes());
                rows.extend_from_slice(&gen.to_be_bytes());
            }
            trailer.set(b"Type", Obj::Name(b"XRef".to_vec()));
            trailer.set(
                b"W",
                Obj::Array(vec![Obj::Int(1), Obj::Int(8), Obj::Int(2)]),
            );
            let index = runs
                .iter()
                .flat_map(|&(f, c)| [Obj::Int(i64::from(f)), Obj::Int(i64::from(c))])
                .collect();
            trailer.set(b"Index", Obj::Array(index));
            trailer.set(b"Length", Obj::Int(rows.len() as i64));
            let mut text = format!("{n} 0 obj\n");
            write_obj(&Obj::Dict(trailer), &mut text);
            text.push_str("\nstream\n");
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(&rows);
            out.extend_from_slice(b"\nendstream\nendobj\n");
        }
        None => {
            let mut text = String::from("xref\n");
            let mut rows = entries.iter();
            for &(first, count) in &runs {
                text.push_str(&format!("{first} {count}\n"));
                for (_, gen, off) in rows.by_ref().take(count as usize) {
                    text.push_str(&format!("{off:010} {gen:05} n\r\n"));
                }
            }
            text.push_str("trailer\n");
            write_obj(&Obj::Dict(trailer), &mut text);
            text.push('\n');
            out.extend_from_slice(text.as_bytes());
        }
    }
    out.extend_from_slice(format!("startxref\n{at}\n%%EOF\n").as_bytes());
    out
}
