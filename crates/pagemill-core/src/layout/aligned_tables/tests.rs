//! Aligned tables on small synthetic pages.

use super::super::testutil::*;
use super::*;
use crate::model::Table;

/// Sets `cells` of one row at the x positions `xs`.
fn row(c: &mut Vec<RawChar>, cells: &[&str], xs: &[f32], y: f32, font: u16) {
    for (t, x) in cells.iter().zip(xs) {
        set_text(c, t, *x, y, 10.0, font);
    }
}

fn find(c: Vec<RawChar>, rules: &[BBox]) -> (Vec<Block>, Vec<bool>) {
    let p = page(c);
    let mut taken = Vec::new();
    let blocks = aligned_tables(rules, &[], &p.chars, &p.fonts, &mut taken);
    (blocks, taken)
}

fn table(b: &Block) -> &Table {
    b.table.as_ref().expect("a table block")
}

#[test]
fn rows_of_values_in_lined_up_columns_are_a_table() {
    let mut c = Vec::new();
    let xs = [72.0, 200.0, 300.0];
    row(&mut c, &["Year", "Total", "Public"], &xs, 100.0, 0);
    for (i, y) in [114.0, 128.0, 142.0, 156.0].iter().enumerate() {
        let year = format!("{}", 2000 + i);
        let total = format!("{},{}00", 50 + i, i);
        row(&mut c, &[&year, &total, "45,611"], &xs, *y, 0);
    }
    set_text(
        &mut c,
        "A sentence of prose below the table ends here.",
        72.0,
        200.0,
        10.0,
        0,
    );
    let (blocks, taken) = find(c.clone(), &[]);
    assert_eq!(blocks.len(), 1);
    let t = table(&blocks[0]);
    assert_eq!((t.rows, t.cols), (5, 3));
    assert_eq!(blocks[0].text.lines().next(), Some("Year\tTotal\tPublic"));
    assert_eq!(blocks[0].text.lines().nth(2), Some("2001\t51,100\t45,611"));
    assert!(t.cells.iter().filter(|c| c.row == 0).all(|c| c.header));
    // The prose stays with the paragraphs.
    let left: String = c
        .iter()
        .zip(&taken)
        .filter(|(_, t)| !**t)
        .map(|(c, _)| c.ch)
        .collect();
    assert_eq!(
        left.trim(),
        "A sentence of prose below the table ends here."
    );
}

#[test]
fn a_header_over_two_columns_spans_them_above_its_rule() {
    let mut c = Vec::new();
    row(
        &mut c,
        &["Group", "Measured values"],
        &[72.0, 215.0],
        100.0,
        0,
    );
    row(&mut c, &["Male", "Female"], &[200.0, 280.0], 114.0, 0);
    for y in [130.0, 144.0, 158.0] {
        row(
            &mut c,
            &["Age 20", "1,087", "1,022"],
            &[72.0, 200.0, 280.0],
            y,
            0,
        );
    }
    // A rule under the header, across the table.
    let rules = [BBox::new(72.0, 127.0, 320.0, 127.5)];
    let (blocks, _) = find(c, &rules);
    assert_eq!(blocks.len(), 1);
    let t = table(&blocks[0]);
    assert_eq!(t.cols, 3);
    let measured = t.cells.iter().find(|c| c.text == "Measured values");
    let measured = measured.unwrap_or_else(|| panic!("{}", blocks[0].text));
    assert_eq!((measured.row, measured.col, measured.colspan), (0, 1, 2));
    let group = t.cells.iter().find(|c| c.text == "Group").unwrap();
    assert_eq!((group.row, group.rowspan), (0, 2));
    assert!(t.has_spans());
}

#[test]
fn prose_and_two_columns_of_prose_are_not_tables() {
    let mut c = Vec::new();
    for k in 0..6 {
        let y = 100.0 + 14.0 * k as f32;
        set_text(
            &mut c,
            "words of running text that fill a column",
            72.0,
            y,
            10.0,
            0,
        );
        set_text(
            &mut c,
            "and more words of the second column here",
            320.0,
            y,
            10.0,
            0,
        );
    }
    assert!(find(c, &[]).0.is_empty());
}

#[test]
fn lists_contents_pages_and_code_are_not_tables() {
    // A bulleted list: a mark, a gap, the item.
    let mut list = Vec::new();
    for k in 0..4 {
        row(
            &mut list,
            &["•", "an item of the list"],
            &[72.0, 90.0],
            100.0 + 14.0 * k as f32,
            0,
        );
    }
    assert!(find(list, &[]).0.is_empty());
    // A table of contents: titles and rising page numbers.
    let mut toc = Vec::new();
    for (k, (title, page)) in [
        ("Introduction", "1"),
        ("Basics", "4"),
        ("Tables", "9"),
        ("Index", "12"),
    ]
    .iter()
    .enumerate()
    {
        row(
            &mut toc,
            &[title, page],
            &[72.0, 400.0],
            100.0 + 14.0 * k as f32,
            0,
        );
    }
    assert!(find(toc, &[]).0.is_empty());
    // Code lined up in a fixed-pitch font.
    let mut code = Vec::new();
    for (k, (stmt, comment)) in [
        ("x = 1", "# one"),
        ("y = x", "# copy"),
        ("z = y", "# again"),
    ]
    .iter()
    .enumerate()
    {
        row(
            &mut code,
            &[stmt, comment],
            &[72.0, 200.0],
            100.0 + 12.0 * k as f32,
            2,
        );
    }
    assert!(find(code, &[]).0.is_empty());
}

#[test]
fn years_counting_on_are_a_table_and_numbered_code_lines_are_not() {
    let mut years = Vec::new();
    row(&mut years, &["Year", "Ducks"], &[72.0, 200.0], 100.0, 0);
    for (k, n) in ["120", "135", "150", "170"].iter().enumerate() {
        let y = 114.0 + 14.0 * k as f32;
        row(
            &mut years,
            &[&format!("{}", 2019 + k), n],
            &[72.0, 200.0],
            y,
            0,
        );
    }
    assert_eq!(find(years, &[]).0.len(), 1);
    let mut listing = Vec::new();
    for (k, stmt) in ["solve(u)", "begin", "onbdy(1)", "end"].iter().enumerate() {
        let y = 100.0 + 14.0 * k as f32;
        row(
            &mut listing,
            &[&format!("{}", k + 1), stmt],
            &[72.0, 100.0],
            y,
            0,
        );
    }
    assert!(find(listing, &[]).0.is_empty());
}

#[test]
fn a_fixed_pitch_table_keeps_columns_one_space_apart() {
    let mut c = Vec::new();
    let lines = [
        "Proportion      1.0   1.1   1.2",
        "0.99 ........   800   880   960",
        "0.95 ........   160   176 1,040",
        "0.90 ........    80    88    96",
    ];
    for (k, l) in lines.iter().enumerate() {
        set_text(&mut c, l, 72.0, 100.0 + 12.0 * k as f32, 10.0, 2);
    }
    let (blocks, _) = find(c, &[]);
    assert_eq!(blocks.len(), 1);
    let t = table(&blocks[0]);
    assert_eq!(t.cols, 4);
    assert_eq!(blocks[0].text.lines().nth(2), Some("0.95\t160\t176\t1,040"));
}

#[test]
fn a_wrapped_description_stays_in_its_row() {
    let mut c = Vec::new();
    let xs = [72.0, 160.0, 240.0];
    row(&mut c, &["package", "size", "description"], &xs, 100.0, 0);
    row(&mut c, &["mc", "1482", "a file manager"], &xs, 114.0, 0);
    row(&mut c, &["vim", "3570", "a text editor for"], &xs, 128.0, 0);
    // Its second line, at the lines' own spacing.
    set_text(&mut c, "programmers", 240.0, 140.0, 10.0, 0);
    row(&mut c, &["w3m", "2828", "a browser"], &xs, 156.0, 0);
    let (blocks, _) = find(c, &[]);
    assert_eq!(blocks.len(), 1);
    let t = table(&blocks[0]);
    assert_eq!(t.rows, 4, "{}", blocks[0].text);
    assert_eq!(
        blocks[0].text.lines().nth(2),
        Some("vim\t3570\ta text editor for programmers")
    );
}
