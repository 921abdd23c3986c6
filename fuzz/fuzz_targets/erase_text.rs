//! Text erasure on arbitrary small rasters and boxes (any place, size, NaN or off the
//! raster): never a panic, and never a change outside the boxes it reports.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use pagemill_image::erase::{erase_text, EraseOptions};
use pagemill_image::inpaint::RasterMut;

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let width = u.int_in_range(1..=48u32)?;
    let height = u.int_in_range(1..=48u32)?;
    let channels = if u.arbitrary()? { 3u8 } else { 1 };
    let mut pixels = Vec::with_capacity((width * height * u32::from(channels)) as usize);
    for _ in 0..width * height * u32::from(channels) {
        pixels.push(u.arbitrary::<u8>().unwrap_or(255));
    }
    let mut boxes = Vec::new();
    for _ in 0..u.int_in_range(0..=6)? {
        let mut b = [0f32; 4];
        for v in &mut b {
            *v = match u.int_in_range(0..=7)? {
                0 => f32::NAN,
                1 => -5.0,
                _ => f32::from(u.int_in_range(0..=60u8)?),
            };
        }
        boxes.push(b);
    }
    let before = pixels.clone();
    let mut img = RasterMut {
        width,
        height,
        channels,
        pixels: &mut pixels,
    };
    let report = erase_text(&mut img, &boxes, &EraseOptions::default());
    let c = usize::from(channels);
    for y in 0..height {
        for x in 0..width {
            let inside = report
                .regions
                .iter()
                .any(|r| x >= r[0] && x < r[2] && y >= r[1] && y < r[3]);
            let at = (y * width + x) as usize * c;
            if !inside {
                assert_eq!(pixels[at..at + c], before[at..at + c], "({x}, {y})");
            }
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
