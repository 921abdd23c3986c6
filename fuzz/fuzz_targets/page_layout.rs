//! The page analysis fed arbitrary text layers (characters anywhere, in any size, font and
//! direction, NaN boxes, control and right-to-left characters, rules and figures), then the
//! furniture stage and the Markdown writer over the pages it made: nothing panics, and
//! every page comes out of the stage once, in order.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use pagemill_core::layout::figures::{place_figures, RawFigure, RawFigureKind};
use pagemill_core::layout::{analyze, FontInfo, RawChar, RawPage};
use pagemill_core::pipeline::FurnitureStage;
use pagemill_core::{BBox, PageOutcome, PageResult};
use pagemill_export::MarkdownWriter;

fn number(u: &mut Unstructured<'_>) -> Result<f32> {
    Ok(match u.int_in_range(0..=19)? {
        0 => f32::NAN,
        1 => f32::INFINITY,
        2 => -1.0e9,
        _ => f32::from(u.int_in_range(0u16..=800)?) + f32::from(u.int_in_range(0u8..=9)?) / 10.0,
    })
}

fn bbox(u: &mut Unstructured<'_>) -> Result<BBox> {
    let (x, y) = (number(u)?, number(u)?);
    Ok(BBox::new(
        x,
        y,
        x + number(u)? / 40.0,
        y + number(u)? / 40.0,
    ))
}

/// Characters drawn from the ones that steer the analysis: letters, digits, spaces,
/// punctuation Markdown cares about, bullets, Arabic, ligatures, superscripts, controls.
fn ch(u: &mut Unstructured<'_>) -> Result<char> {
    const SET: &[char] = &[
        'a', 'B', 'x', '1', '2', ' ', '.', ',', '*', '_', '`', '[', ']', '<', '>', '&', '-', '•',
        'ل', 'ا', 'إ', 'و', '\u{FB01}', '\u{AD}', '\u{2}', '\n', '\u{2044}', '¹', '(', ')', ':',
        '#', '|',
    ];
    if u.ratio(1, 20)? {
        return u.arbitrary();
    }
    Ok(*u.choose(SET)?)
}

fn raw_page(u: &mut Unstructured<'_>, index: u32) -> Result<RawPage> {
    let fonts = vec![
        FontInfo::from_pdf("Times-Roman", 0, 400),
        FontInfo::from_pdf("Times-Bold", 0, 700),
        FontInfo::from_pdf("Times-Italic", 64, 400),
        FontInfo::from_pdf("Courier", 1, 400),
    ];
    let mut chars = Vec::new();
    // Runs of characters along a line, as text layers give them, with jumps.
    for _ in 0..u.int_in_range(0..=12)? {
        let mut at = bbox(u)?;
        let size = number(u)? / 40.0;
        let font = u.int_in_range(0..=4)?;
        let dir = *u.choose(&[0u16, 0, 0, 90, 180, 270])?;
        for _ in 0..u.int_in_range(0..=24)? {
            chars.push(RawChar {
                ch: ch(u)?,
                bbox: at,
                size,
                font,
                generated: u.ratio(1, 10)?,
                dir,
            });
            let w = at.width();
            at = BBox::new(at.x0 + w, at.y0, at.x1 + w, at.y1);
        }
    }
    let mut rules = Vec::new();
    for _ in 0..u.int_in_range(0..=6)? {
        rules.push(bbox(u)?);
    }
    let mut figures = Vec::new();
    for _ in 0..u.int_in_range(0..=2)? {
        figures.push(RawFigure {
            bbox: bbox(u)?,
            kind: RawFigureKind::Drawing,
            dpi: None,
        });
    }
    Ok(RawPage {
        index,
        width: 612.0,
        height: 792.0,
        chars,
        fonts,
        rules,
        figures,
        ..Default::default()
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut stage = FurnitureStage::new();
    let mut md = MarkdownWriter::new(Vec::new());
    let mut out = Vec::new();
    let mut pushed = 0u32;
    for index in 0..4 {
        let Ok(raw) = raw_page(&mut u, index) else {
            break;
        };
        let mut page = analyze(&raw);
        place_figures(&mut page, &raw.figures);
        out.extend(stage.push(PageResult::bare(PageOutcome::Ok(page)), index));
        pushed += 1;
    }
    out.extend(stage.finish());
    let order: Vec<u32> = out.iter().map(|(_, i)| *i).collect();
    assert_eq!(order, (0..pushed).collect::<Vec<_>>());
    for (r, _) in &out {
        if let PageOutcome::Ok(p) = &r.outcome {
            assert!(p.blocks.iter().all(|b| b.margin.is_none()), "marks cleared");
        }
        md.page(&r.outcome).unwrap();
    }
    md.finish().unwrap();
});
