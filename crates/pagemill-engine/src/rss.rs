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
