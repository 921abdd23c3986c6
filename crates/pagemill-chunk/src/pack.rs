//! Second stage: pieces are packed into chunks up to the token budget.
//!
//! Rules, in the order they apply:
//! - a heading closes the open chunk and sets the heading path (a heading of level *n*
//!   replaces the path from level *n* down) — unless the open chunk is still small
//!   (under `combine_under_tokens`): then the section joins it, its heading as a line of
//!   text, and the chunk's path becomes what the two sections share. A reference manual's
//!   `Description`, `Usage` and `Value` of a few lines each become one chunk rather than
//!   three fragments (as `unstructured`'s `combine_text_under_n_chars` does);
//! - prose is added sentence by sentence; a sentence is split (by `text-splitter`, at the
//!   largest unit that fits: clauses, words) only when it alone exceeds the budget;
//! - a code block goes whole into the open chunk if it fits there, else into a chunk of its
//!   own, and only a block longer than the budget is cut, between lines;
//! - a table goes whole into the open chunk if it fits, else its rows are packed into
//!   chunks of their own, each starting with the header row, never cut inside a row (unless
//!   one row alone exceeds the budget);
//! - when a chunk of prose closes because it is full, its last sentences (up to the overlap
//!   budget) open the next chunk of the same section.

use pagemill_core::model::Page;

use crate::units::{piece, Piece};
use crate::{chunk_id, embedding_text, Chunk, ChunkConfig, ChunkKind, SourceBlock, TokenCounter};

/// How a part joins the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    /// A new block: a blank line.
    Block,
    /// A new line: list items, table rows, code lines.
    Line,
    /// The next sentence of the same block.
    Space,
}

#[derive(Debug, Clone)]
struct Part {
    text: String,
    tokens: usize,
    join: Join,
    kind: ChunkKind,
    source: SourceBlock,
    /// Repeated from the previous chunk: a chunk of only such parts is not emitted.
    overlap: bool,
}

/// Streams pages in, chunks out. Holds only the open chunk and the heading path.
pub struct Chunker<C> {
    config: ChunkConfig,
    counter: C,
    path: Vec<(u8, String)>,
    path_tokens: usize,
    /// The heading path of the open chunk: the path when it opened, shortened to what
    /// later sections combined into it share.
    open_path: Vec<(u8, String)>,
    /// Level of the heading that opened the chunk (0: none, the document's start). Only a
    /// section at that level or deeper may combine into it: a chapter never joins the
    /// end of the previous one.
    open_level: u8,
    open: Vec<Part>,
    open_tokens: usize,
    seq: u32,
    ready: Vec<Chunk>,
}

impl<C: TokenCounter> Chunker<C> {
    /// A chunker for one document.
    pub fn new(config: ChunkConfig, counter: C) -> Self {
        Chunker {
            config: ChunkConfig {
                max_tokens: config.max_tokens.max(8),
                overlap_tokens: config.overlap_tokens.min(config.max_tokens / 2),
                combine_under_tokens: config.combine_under_tokens.min(config.max_tokens),
            },
            counter,
            path: Vec::new(),
            path_tokens: 0,
            open_path: Vec::new(),
            open_level: 0,
            open: Vec::new(),
            open_tokens: 0,
            seq: 0,
            ready: Vec::new(),
        }
    }

    /// Adds a page's blocks; returns the chunks this closed (possibly none: a chunk may
    /// continue on the next page).
    pub fn push_page(&mut self, page: &Page) -> Vec<Chunk> {
        for (i, block) in page.blocks.iter().enumerate() {
            let Some(p) = piece(block) else { continue };
            let source = SourceBlock {
                page: page.index,
                block: u32::try_from(i).unwrap_or(u32::MAX),
                bbox: block.bbox,
            };
            self.push_piece(p, source);
        }
        std::mem::take(&mut self.ready)
    }

    /// The document ended: the open chunk, if any.
    pub fn finish(&mut self) -> Vec<Chunk> {
        self.close(false);
        std::mem::take(&mut self.ready)
    }

    /// Tokens left for text once the heading path is counted.
    fn budget(&self) -> usize {
        let max = self.config.max_tokens;
        max.saturating_sub(self.path_tokens).max(max / 2)
    }

    fn push_piece(&mut self, p: Piece, source: SourceBlock) {
        match p {
            Piece::Heading { level, text } => {
                let has_text = self.open.iter().any(|p| !p.overlap);
                let combine = has_text
                    && level >= self.open_level
                    && self.open_tokens < self.config.combine_under_tokens;
                if !combine {
                    self.close(false);
                }
                while self.path.last().is_some_and(|(l, _)| *l >= level) {
                    self.path.pop();
                }
                self.path.push((level, text.clone()));
                if combine {
                    let shared = self
                        .open_path
                        .iter()
                        .zip(&self.path)
                        .take_while(|(a, b)| a == b)
                        .count();
                    self.open_path.truncate(shared);
                    self.push_text(text, Join::Block, ChunkKind::Text, source);
                } else {
                    self.open_path = self.path.clone();
                    self.open_level = level;
                }
                let line: Vec<&str> = self.path.iter().map(|(_, t)| t.as_str()).collect();
                self.path_tokens = self.counter.count(&line.join(" > ")) + 1;
            }
            Piece::Prose {
                sentences,
                list_item,
            } => {
                let first = if list_item { Join::Line } else { Join::Block };
                for (i, s) in sentences.into_iter().enumerate() {
                    let join = if i == 0 { first } else { Join::Space };
                    self.push_text(s, join, ChunkKind::Text, source);
                }
            }
            Piece::Code { text } => {
                let tokens = self.counter.count(&text);
                if tokens <= self.budget() {
                    if self.open_tokens + tokens > self.budget() {
                        self.close(false);
                    }
                    self.push_part(text, tokens, Join::Block, ChunkKind::Code, source);
                } else {
                    self.close(false);
                    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
                        let join = if i == 0 { Join::Block } else { Join::Line };
                        self.push_text(line.to_string(), join, ChunkKind::Code, source);
                    }
                    self.close(false);
                }
            }
            Piece::Table { header, rows } => self.push_table(header, rows, source),
        }
    }

    fn push_table(&mut self, header: Vec<String>, rows: Vec<String>, source: SourceBlock) {
        let head = header.join("\n");
        let head_tokens = if head.is_empty() {
            0
        } else {
            self.counter.count(&head)
        };
        let row_tokens: Vec<usize> = rows.iter().map(|r| self.counter.count(r)).collect();
        let total = head_tokens + row_tokens.iter().sum::<usize>();
        let whole_fits = self.open_tokens + total <= self.budget();
        if !whole_fits {
            self.close(false);
        }
        let mut need_header = !head.is_empty();
        for (row, tokens) in rows.into_iter().zip(row_tokens) {
            if !whole_fits && self.open_tokens + tokens > self.budget() {
                self.close(false);
                need_header = !head.is_empty();
            }
            if need_header && head_tokens + tokens <= self.budget() {
                let join = if self.open.is_empty() {
                    Join::Block
                } else {
                    Join::Line
                };
                self.push_part(head.clone(), head_tokens, join, ChunkKind::Table, source);
                need_header = false;
            }
            self.push_text(row, Join::Line, ChunkKind::Table, source);
        }
        if need_header && self.open.is_empty() {
            // A table with a header and no body rows: the header is its content.
            self.push_part(head, head_tokens, Join::Block, ChunkKind::Table, source);
        }
        if !whole_fits {
            self.close(false);
        }
    }

    /// Adds a sentence, row or line, splitting it only if it alone is over the budget.
    fn push_text(&mut self, text: String, join: Join, kind: ChunkKind, source: SourceBlock) {
        let tokens = self.counter.count(&text);
        let budget = self.budget();
        if tokens <= budget {
            self.push_part(text, tokens, join, kind, source);
            return;
        }
        let splitter = text_splitter::TextSplitter::new(
            text_splitter::ChunkConfig::new(budget).with_sizer(Sizer(&self.counter)),
        );
        let pieces: Vec<(String, usize)> = splitter
            .chunks(&text)
            .map(|p| (p.to_string(), self.counter.count(p)))
            .collect();
        for (i, (piece, tokens)) in pieces.into_iter().enumerate() {
            let join = if i == 0 { join } else { Join::Space };
            self.push_part(piece, tokens, join, kind, source);
        }
    }

    fn push_part(
        &mut self,
        text: String,
        tokens: usize,
        join: Join,
        kind: ChunkKind,
        source: SourceBlock,
    ) {
        if self.open_tokens + tokens > self.budget() {
            if self.open.iter().all(|p| p.overlap) {
                self.open.clear();
                self.open_tokens = 0;
            } else {
                let keep = kind == ChunkKind::Text;
                self.close(keep);
            }
        }
        self.open_tokens += tokens;
        self.open.push(Part {
            text,
            tokens,
            join,
            kind,
            source,
            overlap: false,
        });
    }

    /// Emits the open chunk (if it has anything new); with `keep_overlap`, its last prose
    /// sentences start the next one.
    fn close(&mut self, keep_overlap: bool) {
        let parts = std::mem::take(&mut self.open);
        self.open_tokens = 0;
        if parts.iter().all(|p| p.overlap) {
            return;
        }
        let mut text = String::new();
        let mut kind: Option<ChunkKind> = None;
        let mut sources: Vec<SourceBlock> = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                text.push_str(match p.join {
                    Join::Block => "\n\n",
                    Join::Line => "\n",
                    Join::Space => " ",
                });
            }
            text.push_str(&p.text);
            kind = Some(match kind {
                Some(k) if k != p.kind => ChunkKind::Mixed,
                _ => p.kind,
            });
            if !sources
                .iter()
                .any(|s| s.page == p.source.page && s.block == p.source.block)
            {
                sources.push(p.source);
            }
        }
        let path: Vec<String> = self.open_path.iter().map(|(_, t)| t.clone()).collect();
        self.open_path = self.path.clone();
        self.open_level = self.path.last().map_or(0, |(l, _)| *l);
        let tokens = self.counter.count(&embedding_text(&path, &text));
        let first = sources.iter().map(|s| s.page).min().unwrap_or(0);
        let last = sources.iter().map(|s| s.page).max().unwrap_or(0);
        self.ready.push(Chunk {
            seq: self.seq,
            id: chunk_id(self.seq, &path, &text),
            kind: kind.unwrap_or(ChunkKind::Text),
            heading_path: path,
            text,
            tokens,
            pages: (first, last),
            sources,
        });
        self.seq += 1;
        if keep_overlap && self.config.overlap_tokens > 0 {
            let mut carried = Vec::new();
            let mut total = 0;
            for p in parts.iter().rev() {
                if p.kind != ChunkKind::Text || total + p.tokens > self.config.overlap_tokens {
                    break;
                }
                total += p.tokens;
                carried.push(Part {
                    overlap: true,
                    ..p.clone()
                });
            }
            carried.reverse();
            self.open_tokens = total;
            self.open = carried;
        }
    }
}

/// `text-splitter`'s view of our token counter.
struct Sizer<'a, C>(&'a C);

impl<C: TokenCounter> text_splitter::ChunkSizer for Sizer<'_, C> {
    fn size(&self, chunk: &str) -> usize {
        self.0.count(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{block, page, paths_and_texts};
    use crate::{chunk_pages, WordCounter};
    use pagemill_core::model::BlockKind;

    fn config(max: usize, overlap: usize) -> ChunkConfig {
        ChunkConfig {
            max_tokens: max,
            overlap_tokens: overlap,
            combine_under_tokens: 0,
        }
    }

    #[test]
    fn small_sections_combine_under_the_path_they_share() {
        let pages = [page(
            0,
            vec![
                block(BlockKind::Heading, "Chapter One"),
                block(BlockKind::Heading, "Usage"),
                block(BlockKind::Paragraph, "f(x)."),
                block(BlockKind::Heading, "Value"),
                block(BlockKind::Paragraph, "A number."),
                block(BlockKind::Heading, "Chapter Two"),
                block(
                    BlockKind::Paragraph,
                    "Long enough text to stand alone here.",
                ),
                block(BlockKind::Heading, "Notes"),
                block(BlockKind::Paragraph, "Small."),
            ],
        )];
        let mut c = config(50, 0);
        c.combine_under_tokens = 5;
        let chunks = chunk_pages(&pages, c, &WordCounter);
        assert_eq!(
            paths_and_texts(&chunks),
            vec![
                ("Chapter One".into(), "f(x).\n\nValue\n\nA number."),
                (
                    "Chapter Two".into(),
                    "Long enough text to stand alone here."
                ),
                ("Chapter Two > Notes".into(), "Small."),
            ]
        );
    }

    #[test]
    fn headings_close_chunks_and_make_the_path() {
        let pages = [page(
            0,
            vec![
                block(BlockKind::Heading, "Chapter One"),
                block(BlockKind::Paragraph, "Intro text."),
                block(BlockKind::Heading, "Section A"),
                block(BlockKind::Paragraph, "Body of A."),
                block(BlockKind::Heading, "Section B"),
                block(BlockKind::Paragraph, "Body of B."),
            ],
        )];
        let chunks = chunk_pages(&pages, config(50, 0), &WordCounter);
        assert_eq!(
            paths_and_texts(&chunks),
            vec![
                ("Chapter One".into(), "Intro text."),
                ("Chapter One > Section A".into(), "Body of A."),
                ("Chapter One > Section B".into(), "Body of B."),
            ]
        );
        assert_eq!(chunks[1].sources[0].block, 3);
    }

    #[test]
    fn sentences_are_never_split_and_overlap_is_whole_sentences() {
        // (UAX #29: a sentence ends at a full stop followed by a capital.)
        let text = "One two three four. Five six seven eight. Nine ten eleven twelve.";
        let chunks = chunk_pages(
            &[page(0, vec![block(BlockKind::Paragraph, text)])],
            config(9, 4),
            &WordCounter,
        );
        let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "One two three four. Five six seven eight.",
                "Five six seven eight. Nine ten eleven twelve."
            ]
        );
    }

    #[test]
    fn a_paragraph_continues_across_pages() {
        let pages = [
            page(4, vec![block(BlockKind::Paragraph, "Starts here")]),
            page(5, vec![block(BlockKind::Paragraph, "and ends here.")]),
        ];
        let chunks = chunk_pages(&pages, config(50, 0), &WordCounter);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].pages, (4, 5));
        assert_eq!(chunks[0].sources.len(), 2);
    }

    #[test]
    fn code_that_fits_is_kept_whole_in_a_chunk_of_its_own() {
        let code = "fn main() {\n    println!(\"hi\");\n}";
        let pages = [page(
            0,
            vec![
                block(BlockKind::Paragraph, "a b c d e f g h."),
                block(BlockKind::Code, code),
            ],
        )];
        let chunks = chunk_pages(&pages, config(10, 0), &WordCounter);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[1].text, code);
        assert_eq!(chunks[1].kind, ChunkKind::Code);
    }

    #[test]
    fn ids_are_stable_and_differ_by_position() {
        let pages = [page(
            0,
            vec![
                block(BlockKind::Heading, "Chapter X"),
                block(BlockKind::Paragraph, "Same."),
                block(BlockKind::Heading, "Chapter X"),
                block(BlockKind::Paragraph, "Same."),
            ],
        )];
        let a = chunk_pages(&pages, config(50, 0), &WordCounter);
        let b = chunk_pages(&pages, config(50, 0), &WordCounter);
        assert_eq!(a, b);
        assert_ne!(a[0].id, a[1].id);
    }
}
