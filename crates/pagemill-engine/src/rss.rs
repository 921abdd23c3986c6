//! Resident memory of the process tree (parent + workers), read from `/proc`.

/// Resident set size of `pid` in bytes, or 0 if it cannot be read.
pub fn rss_bytes(pid: u32) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/statm")) else {
        return 0;
    };
    let resident: u64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    resident * page.max(4096) as u64
}

/// Sum of the resident sets of this process and `children`.
pub fn tree_rss(children: &[u32]) -> u64 {
    rss_bytes(std::process::id()) + children.iter().map(|&p| rss_bytes(p)).sum::<u64>()
}

/// Caps the malloc arenas of this process at `n` (glibc only; elsewhere a no-op). Call it
/// before the process starts its threads.
///
/// glibc gives each new thread that meets a locked arena an arena of its own, up to 8 per
/// core, and memory freed in one is not reused by another. An extraction hands section
/// texts of megabytes between the sink thread and its LLM threads, so each arena ends up
/// holding its own copy of the largest sections: measured on R's 2,415-page manual
/// (`scripts/bench-extract --endpoint echo`), the main process peaked at 52.9 MB for the
/// first 10 sections and 69.8 MB for all 17 (1.32×); with two arenas, 47.5 and 51.4 MB
/// (1.08×), in the same time.
pub fn limit_malloc_arenas(n: u32) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let n = libc::c_int::try_from(n.max(1)).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only changes a tuning parameter of glibc's allocator; it is safe
        // to call from any thread, and the value is in range.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, n);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = n;
}
