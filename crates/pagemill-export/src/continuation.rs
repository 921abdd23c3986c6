//! Tables continued over pages. Each page's tables are found on that page alone; the
//! writers see pages in order, so this is where a table that opens a page with the columns
//! of the table that ended the page before is marked [`Table::continued`].

use pagemill_core::model::{Block, BlockKind, Page, PageOutcome, Table};
use pagemill_core::PageResult;

/// How far apart (share of the page width) two tables' column edges may be and still be
/// the same columns: a page's table drifts by a few points with its margins.
const EDGE_TOLERANCE: f32 = 0.02;

/// Remembers the table that ended the last page.
#[derive(Debug, Default)]
pub struct TableContinuity {
    /// Left edges of the columns of the table that ended the previous page.
    last: Option<Vec<f32>>,
}

impl TableContinuity {
    /// A copy of `result` with its first table marked continued, when it continues the
    /// previous page's last table; `None` when nothing changes.
    pub fn mark(&mut self, result: &PageResult) -> Option<PageResult> {
        let PageOutcome::Ok(page) = &result.outcome else {
            self.last = None;
            return None;
        };
        let body: Vec<(usize, &Block)> = page
            .blocks
            .iter()
            .enumerate()
            .filter(|(_, b)| !b.kind.is_furniture())
            .collect();
        let opening = table_at(body.first().copied());
        let continued = match (&self.last, opening) {
            (Some(prev), Some((_, t))) => same_columns(prev, &column_edges(t), page),
            _ => false,
        };
        self.last = table_at(body.last().copied()).map(|(_, t)| column_edges(t));
        let (index, _) = opening.filter(|_| continued)?;
        let mut marked = result.clone();
        if let PageOutcome::Ok(p) = &mut marked.outcome {
            if let Some(t) = p.blocks[index].table.as_mut() {
                t.continued = true;
            }
        }
        Some(marked)
    }
}

/// The table of a (block index, block) entry, if it is one.
fn table_at(entry: Option<(usize, &Block)>) -> Option<(usize, &Table)> {
    let (i, b) = entry?;
    if b.kind != BlockKind::Table {
        return None;
    }
    b.table.as_ref().map(|t| (i, t))
}

/// Each column's left edge: the leftmost left side of its single-column cells.
fn column_edges(t: &Table) -> Vec<f32> {
    let mut edges = vec![f32::INFINITY; t.cols as usize];
    for c in t.cells.iter().filter(|c| c.colspan == 1) {
        if let Some(e) = edges.get_mut(c.col as usize) {
            *e = e.min(c.bbox.x0);
        }
    }
    edges
}

fn same_columns(a: &[f32], b: &[f32], page: &Page) -> bool {
    let tol = EDGE_TOLERANCE * page.width.max(1.0);
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x.is_infinite() && y.is_infinite()) || (x - y).abs() <= tol)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagemill_core::model::{BBox, TableCell};

    fn table_block(xs: &[f32]) -> Block {
        let cells = xs
            .iter()
            .enumerate()
            .map(|(k, &x)| TableCell {
                row: 0,
                col: k as u32,
                rowspan: 1,
                colspan: 1,
                bbox: BBox::new(x, 100.0, x + 50.0, 120.0),
                text: format!("c{k}"),
                header: false,
            })
            .collect();
        Block {
            kind: BlockKind::Table,
            table: Some(Table {
                rows: 1,
                cols: xs.len() as u32,
                cells,
                continued: false,
            }),
            ..paragraph()
        }
    }

    fn paragraph() -> Block {
        Block {
            kind: BlockKind::Paragraph,
            text: "Text.".into(),
            font_size: 10.0,
            ..Block::figure(BBox::new(72.0, 600.0, 500.0, 620.0))
        }
    }

    fn page(index: u32, blocks: Vec<Block>) -> PageResult {
        PageResult::bare(PageOutcome::Ok(Page::new(index, 612.0, 792.0, blocks)))
    }

    fn continued(r: &PageResult) -> bool {
        match &r.outcome {
            PageOutcome::Ok(p) => p.blocks[0].table.as_ref().is_some_and(|t| t.continued),
            PageOutcome::Failed(_) => false,
        }
    }

    #[test]
    fn a_table_opening_a_page_with_the_same_columns_continues_the_last_one() {
        let mut c = TableContinuity::default();
        assert!(c
            .mark(&page(0, vec![paragraph(), table_block(&[72.0, 200.0])]))
            .is_none());
        let next = c.mark(&page(1, vec![table_block(&[74.0, 201.0]), paragraph()]));
        assert!(next.as_ref().is_some_and(continued));
        // The page after ended with prose: a table opening page 2 is a new one.
        assert!(c
            .mark(&page(2, vec![table_block(&[72.0, 200.0])]))
            .is_none());
        // Different columns: a new table.
        assert!(c
            .mark(&page(3, vec![table_block(&[72.0, 300.0, 400.0])]))
            .is_none());
    }
}
