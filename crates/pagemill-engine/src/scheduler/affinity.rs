//! Which pages of a document each worker takes: runs of consecutive pages, one run per
//! worker at a time, instead of pages dealt out in turn.
//!
//! Workers read long PDFs through 64-page views ([`pagemill_pdf::VIEW_PAGES`]), and
//! opening a view costs ~14 ms (PDFium parses the whole cross-reference again) plus the
//! fonts of its pages. Dealt out in turn, every worker opened every view: on the 2,415-page
//! R-refman, two workers opened 76 views against one worker's 38, and their CPU per page
//! rose 20 % (measured with strace and perf). A worker that takes a view's pages as a run
//! opens each view once between them. Near the end of a document, a worker with nothing
//! left takes the back half of the longest run still waiting, so no worker idles while
//! another has a queue.

/// Which sequence numbers (pages in document order, 0-based among the selected) each slot
/// has claimed and not yet started.
#[derive(Debug)]
pub(crate) struct PageClaims {
    /// First sequence number no slot has claimed.
    next: u64,
    /// Sequence numbers in the document.
    total: u64,
    /// Per slot, the claimed run `[from, to)` not yet started.
    runs: Vec<(u64, u64)>,
}

impl PageClaims {
    /// Claims over sequence numbers `start..total` for `slots` workers.
    pub(crate) fn new(start: u64, total: u64, slots: usize) -> Self {
        PageClaims {
            next: start,
            total,
            runs: vec![(0, 0); slots.max(1)],
        }
    }

    /// Whether every page has been handed out.
    pub(crate) fn exhausted(&self) -> bool {
        self.next >= self.total && self.runs.iter().all(|(f, t)| f >= t)
    }

    /// The next page for `slot`: the next of its run; else the start of a new run of `run`
    /// pages; else the back half of the longest run another slot still has. `fits` says
    /// whether a sequence number may start now (the reorder window); a page that may not
    /// start is not taken.
    pub(crate) fn take(
        &mut self,
        slot: usize,
        run: u64,
        fits: impl Fn(u64) -> bool,
    ) -> Option<u64> {
        let slot = slot.min(self.runs.len() - 1);
        let (from, to) = self.runs[slot];
        if from < to {
            if !fits(from) {
                return None;
            }
            self.runs[slot].0 += 1;
            return Some(from);
        }
        if self.next < self.total {
            let start = self.next;
            if !fits(start) {
                return None;
            }
            let end = (start + run.max(1)).min(self.total);
            self.next = end;
            self.runs[slot] = (start + 1, end);
            return Some(start);
        }
        let (victim, len) = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, (f, t))| (i, t.saturating_sub(*f)))
            .max_by_key(|&(_, len)| len)?;
        if len < 2 {
            return None;
        }
        let (from, to) = self.runs[victim];
        // The idle slot takes the larger half: the victim is busy with its current page.
        let mid = from + len / 2;
        if !fits(mid) {
            return None;
        }
        self.runs[victim].1 = mid;
        self.runs[slot] = (mid + 1, to);
        Some(mid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_slot_takes_a_run_then_helps_at_the_end() {
        let mut c = PageClaims::new(0, 10, 2);
        let all = |_| true;
        assert_eq!(c.take(0, 4, all), Some(0));
        assert_eq!(c.take(1, 4, all), Some(4));
        assert_eq!(c.take(0, 4, all), Some(1));
        assert_eq!(c.take(0, 4, all), Some(2));
        assert_eq!(c.take(0, 4, all), Some(3));
        assert_eq!(c.take(0, 4, all), Some(8), "a new run");
        assert_eq!(c.take(0, 4, all), Some(9));
        // Slot 1 still has 5, 6, 7: slot 0 takes the back half.
        assert_eq!(c.take(0, 4, all), Some(6));
        assert_eq!(c.take(0, 4, all), Some(7));
        assert_eq!(c.take(1, 4, all), Some(5));
        assert_eq!(c.take(1, 4, all), None);
        assert!(c.exhausted());
    }

    #[test]
    fn pages_outside_the_window_wait() {
        let mut c = PageClaims::new(3, 100, 1);
        assert_eq!(c.take(0, 64, |s| s < 4), Some(3));
        assert_eq!(c.take(0, 64, |s| s < 4), None, "4 is outside the window");
        assert_eq!(c.take(0, 64, |_| true), Some(4));
        assert!(!c.exhausted());
    }
}
