//! A [`Table`] as text: a Markdown pipe table when no cell spans, an HTML `<table>` with
//! `rowspan`/`colspan` when one does (a pipe table cannot say it).

use pagemill_core::model::{Table, TableCell};

/// Which form tables are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableForm {
    /// Pipe tables, HTML for tables with spanning cells.
    #[default]
    Auto,
    /// Always pipe tables (a spanning cell's text in its first column and row).
    Markdown,
    /// Always HTML.
    Html,
}

/// The table in the form asked for.
pub fn render_table(table: &Table, form: TableForm) -> String {
    match form {
        TableForm::Auto if table.has_spans() => html_table(table),
        TableForm::Html => html_table(table),
        _ => pipe_table(table),
    }
}

/// Most positions a pipe table is laid out with; beyond, the table is written as HTML,
/// which needs no grid in memory.
const MAX_PIPE_POSITIONS: usize = 1 << 20;

/// A GitHub-flavoured Markdown pipe table; the first row is its header.
pub fn pipe_table(table: &Table) -> String {
    // The grid as far as the cells reach (a table read back from elsewhere may claim any
    // size), and never more positions than a page could hold.
    let reach = |f: fn(&TableCell) -> u32| table.cells.iter().map(|c| f(c).saturating_add(1)).max();
    let rows = reach(|c| c.row).unwrap_or(0).min(table.rows) as usize;
    let cols = reach(|c| c.col).unwrap_or(0).min(table.cols) as usize;
    if rows == 0 || cols == 0 {
        return String::new();
    }
    if rows.saturating_mul(cols) > MAX_PIPE_POSITIONS {
        return html_table(table);
    }
    let mut grid = vec![vec![String::new(); cols]; rows];
    for c in &table.cells {
        if let Some(slot) = grid
            .get_mut(c.row as usize)
            .and_then(|r| r.get_mut(c.col as usize))
        {
            *slot = pipe_cell(&c.text);
        }
    }
    let mut out = String::new();
    for (r, row) in grid.iter().enumerate() {
        out.push('|');
        for cell in row {
            out.push(' ');
            out.push_str(cell);
            out.push_str(" |");
        }
        out.push('\n');
        if r == 0 {
            out.push('|');
            out.push_str(&" --- |".repeat(cols));
            out.push('\n');
        }
    }
    out.pop();
    out
}

/// An HTML table; header cells as `<th>`.
pub fn html_table(table: &Table) -> String {
    let mut out = String::from("<table>\n");
    let mut row = None;
    for c in &table.cells {
        if row != Some(c.row) {
            if row.is_some() {
                out.push_str("</tr>\n");
            }
            out.push_str("<tr>");
            row = Some(c.row);
        }
        let tag = if c.header { "th" } else { "td" };
        out.push('<');
        out.push_str(tag);
        if c.rowspan > 1 {
            out.push_str(&format!(" rowspan=\"{}\"", c.rowspan));
        }
        if c.colspan > 1 {
            out.push_str(&format!(" colspan=\"{}\"", c.colspan));
        }
        out.push('>');
        out.push_str(&html_text(&c.text));
        out.push_str("</");
        out.push_str(tag);
        out.push('>');
    }
    if row.is_some() {
        out.push_str("</tr>\n");
    }
    out.push_str("</table>");
    out
}

/// A cell's text on one pipe-table line: pipes escaped, line breaks as `<br>`.
fn pipe_cell(text: &str) -> String {
    text.trim()
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace('\n', "<br>")
}

/// A cell's text as HTML character data.
fn html_text(text: &str) -> String {
    text.trim()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\n', "<br>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagemill_core::model::TableCell;
    use pagemill_core::BBox;

    fn cell(row: u32, col: u32, rowspan: u32, colspan: u32, text: &str) -> TableCell {
        TableCell {
            row,
            col,
            rowspan,
            colspan,
            bbox: BBox::default(),
            text: text.into(),
            header: row == 0,
        }
    }

    #[test]
    fn plain_tables_are_pipe_tables_with_escaped_cells() {
        let t = Table {
            rows: 2,
            cols: 2,
            cells: vec![
                cell(0, 0, 1, 1, "Name"),
                cell(0, 1, 1, 1, "a|b"),
                cell(1, 0, 1, 1, "x\ny"),
                cell(1, 1, 1, 1, ""),
            ],
            continued: false,
        };
        assert_eq!(
            render_table(&t, TableForm::Auto),
            "| Name | a\\|b |\n| --- | --- |\n| x<br>y |  |"
        );
        assert!(render_table(&t, TableForm::Html).starts_with("<table>\n<tr><th>Name</th>"));
    }

    #[test]
    fn spanning_cells_make_an_html_table() {
        let t = Table {
            rows: 2,
            cols: 2,
            cells: vec![
                cell(0, 0, 1, 2, "Both <cols>"),
                cell(1, 0, 1, 1, "1"),
                cell(1, 1, 1, 1, "2"),
            ],
            continued: false,
        };
        assert_eq!(
            render_table(&t, TableForm::Auto),
            "<table>\n<tr><th colspan=\"2\">Both &lt;cols&gt;</th></tr>\n<tr><td>1</td><td>2</td></tr>\n</table>"
        );
        assert!(render_table(&t, TableForm::Markdown).starts_with("| Both <cols> |  |"));
    }
}
