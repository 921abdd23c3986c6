//! `--pages` parsing: any text is a clean error or ranges whose pages are in order, in
//! range, without repeats, and as many as `count` says.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pagemill_core::ranges::PageRanges;

fuzz_target!(|data: &[u8]| {
    let Some((&n, spec)) = data.split_first() else {
        return;
    };
    let Ok(spec) = std::str::from_utf8(spec) else {
        return;
    };
    let Ok(ranges) = PageRanges::parse(spec) else {
        return;
    };
    let page_count = u32::from(n) * 40;
    let pages: Vec<u32> = ranges.iter(page_count).take(20_000).collect();
    assert!(pages.windows(2).all(|w| w[0] < w[1]), "{spec:?}: {pages:?}");
    assert!(pages.iter().all(|&p| p < page_count));
    assert_eq!(pages.len() as u32, ranges.count(page_count), "{spec:?}");
});
