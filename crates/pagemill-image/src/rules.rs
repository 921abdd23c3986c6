//! Table rules in a page image: straight horizontal and vertical runs of dark pixels, long
//! against the text around them and thin, found row by row and column by column.
//!
//! A scan has no vector rules; its table grid is only ink. A run counts when it is at
//! least `min_len` pixels long (letters' strokes and dashes are shorter than the caller's
//! bound, a few text heights); runs in neighbouring rows (or columns) that overlap merge
//! into one rule with a thickness, and a "rule" thicker than `max_thickness` is a filled
//! area (a photo, a black bar), not a rule.

/// A rule found in an image, in pixels: `[x0, y0, x1, y1)`.
pub type PixelBox = [u32; 4];

/// Darker than this (0–255) is ink.
const INK: u8 = 128;
/// Light pixels a run may skip (breaks in a scanned line).
const MAX_BREAK: u32 = 2;

/// Horizontal and vertical rules of `pixels` (8-bit gray, row-major, `width × height`).
pub fn find_rules(
    pixels: &[u8],
    width: u32,
    height: u32,
    min_len: u32,
    max_thickness: u32,
) -> Vec<PixelBox> {
    let (w, h) = (width as usize, height as usize);
    if w == 0 || h == 0 || pixels.len() < w * h || min_len == 0 {
        return Vec::new();
    }
    let at = |x: usize, y: usize| pixels[y * w + x] < INK;
    // Horizontal: runs per row, merged down the rows.
    let rows: Vec<Vec<(u32, u32)>> = (0..h)
        .map(|y| runs((0..w).map(|x| at(x, y)), min_len))
        .collect();
    let mut out: Vec<PixelBox> = merge(&rows, max_thickness)
        .into_iter()
        .map(|(a, b, s, e)| [s, a, e, b])
        .collect();
    // Vertical: runs per column, merged across the columns.
    let cols: Vec<Vec<(u32, u32)>> = (0..w)
        .map(|x| runs((0..h).map(|y| at(x, y)), min_len))
        .collect();
    out.extend(
        merge(&cols, max_thickness)
            .into_iter()
            .map(|(a, b, s, e)| [a, s, b, e]),
    );
    out
}

/// Runs of ink at least `min_len` long along one line of pixels, as `(start, end)`.
fn runs(line: impl Iterator<Item = bool>, min_len: u32) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let (mut start, mut last_ink): (Option<u32>, u32) = (None, 0);
    let mut n = 0u32;
    for (i, ink) in line.enumerate() {
        let i = i as u32;
        n = i + 1;
        if ink {
            if start.is_none() {
                start = Some(i);
            }
            last_ink = i;
        } else if let Some(s) = start {
            if i - last_ink > MAX_BREAK {
                if last_ink + 1 - s >= min_len {
                    out.push((s, last_ink + 1));
                }
                start = None;
            }
        }
    }
    if let Some(s) = start {
        if last_ink + 1 - s >= min_len && last_ink < n {
            out.push((s, last_ink + 1));
        }
    }
    out
}

/// Runs of consecutive lines (rows for horizontal rules) that overlap merged into rules:
/// `(first line, end line, start, end)`; thicker than `max_thickness` is dropped.
fn merge(lines: &[Vec<(u32, u32)>], max_thickness: u32) -> Vec<(u32, u32, u32, u32)> {
    // Open rules: (first line, last line, start, end).
    let mut open: Vec<(u32, u32, u32, u32)> = Vec::new();
    let mut done = Vec::new();
    for (i, runs) in lines.iter().enumerate() {
        let i = i as u32;
        let mut next_open = Vec::with_capacity(open.len());
        let mut used = vec![false; runs.len()];
        for r in open.drain(..) {
            let hit = runs.iter().enumerate().find(|(k, &(s, e))| {
                !used[*k] && overlap(s, e, r.2, r.3) * 5 >= (r.3 - r.2).min(e - s) * 4
            });
            match hit {
                Some((k, &(s, e))) => {
                    used[k] = true;
                    next_open.push((r.0, i, r.2.min(s), r.3.max(e)));
                }
                None => done.push(r),
            }
        }
        for (k, &(s, e)) in runs.iter().enumerate() {
            if !used[k] {
                next_open.push((i, i, s, e));
            }
        }
        open = next_open;
    }
    done.extend(open);
    done.into_iter()
        .filter(|r| r.1 + 1 - r.0 <= max_thickness)
        .map(|(a, b, s, e)| (a, b + 1, s, e))
        .collect()
}

fn overlap(a0: u32, a1: u32, b0: u32, b1: u32) -> u32 {
    a1.min(b1).saturating_sub(a0.max(b0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A white image with black boxes drawn in.
    fn image(w: u32, h: u32, boxes: &[PixelBox]) -> Vec<u8> {
        let mut p = vec![255u8; (w * h) as usize];
        for b in boxes {
            for y in b[1]..b[3] {
                for x in b[0]..b[2] {
                    p[(y * w + x) as usize] = 0;
                }
            }
        }
        p
    }

    #[test]
    fn long_thin_runs_are_rules_and_letters_and_blobs_are_not() {
        let boxes = [
            [10, 20, 190, 22],   // a horizontal rule, 2 px thick
            [50, 10, 51, 90],    // a vertical rule, with a 1-px break at y = 40
            [100, 60, 103, 68],  // a letter's stem: too short
            [120, 70, 180, 100], // a filled area: too thick
        ];
        let mut p = image(200, 120, &boxes);
        p[(40 * 200 + 50) as usize] = 255;
        let rules = find_rules(&p, 200, 120, 20, 6);
        assert!(rules.contains(&[10, 20, 190, 22]), "{rules:?}");
        assert!(rules.contains(&[50, 10, 51, 90]), "{rules:?}");
        assert_eq!(rules.len(), 2, "{rules:?}");
    }
}
