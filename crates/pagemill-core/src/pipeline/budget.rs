//! Memory admission: a counter of bytes in flight, checked before a page is dispatched.

/// A budget of bytes shared by every page in flight (dispatched, or finished and waiting
/// to be written in order).
///
/// Deliberately single-threaded: the scheduler owns it and admits pages in its one loop,
/// so there is nothing to lock.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: u64,
    used: u64,
    peak: u64,
    /// Of `used`, bytes held for a whole job by its sinks ([`MemoryBudget::reserve`]).
    resident: u64,
}

/// Bytes held for one page; give them back with [`MemoryBudget::release`].
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a permit must be released or the budget leaks"]
pub struct Permit {
    bytes: u64,
    resident: bool,
}

impl Permit {
    /// Bytes this permit holds.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Self {
        MemoryBudget {
            limit,
            used: 0,
            peak: 0,
            resident: 0,
        }
    }

    /// Admits `cost` bytes if they fit. A page costing more than the whole budget is still
    /// admitted when nothing else is in flight, so one large page can never stall a job
    /// forever; it simply runs alone. (Resident bytes do not count as something in
    /// flight here, or a sink's model larger than the budget would stall every page.)
    pub fn try_admit(&mut self, cost: u64) -> Option<Permit> {
        let fits = self.used.saturating_add(cost) <= self.limit;
        if fits || self.used == self.resident {
            self.used = self.used.saturating_add(cost);
            self.peak = self.peak.max(self.used);
            Some(Permit {
                bytes: cost,
                resident: false,
            })
        } else {
            None
        }
    }

    /// Holds `bytes` for as long as a job runs: memory its sinks keep whatever the page
    /// (an embedding model and its threads' buffers). Always granted — the memory is
    /// already in use — so pages are admitted only into what is left of the budget.
    pub fn reserve(&mut self, bytes: u64) -> Permit {
        self.used = self.used.saturating_add(bytes);
        self.resident = self.resident.saturating_add(bytes);
        self.peak = self.peak.max(self.used);
        Permit {
            bytes,
            resident: true,
        }
    }

    /// Re-prices a permit once the real size is known (e.g. the size of a finished result
    /// waiting for its turn). May exceed the limit; admission of further pages waits then.
    pub fn resize(&mut self, permit: &mut Permit, bytes: u64) {
        self.used = self.used.saturating_sub(permit.bytes).saturating_add(bytes);
        if permit.resident {
            self.resident = self
                .resident
                .saturating_sub(permit.bytes)
                .saturating_add(bytes);
        }
        self.peak = self.peak.max(self.used);
        permit.bytes = bytes;
    }

    /// Returns a permit's bytes.
    pub fn release(&mut self, permit: Permit) {
        self.used = self.used.saturating_sub(permit.bytes);
        if permit.resident {
            self.resident = self.resident.saturating_sub(permit.bytes);
        }
    }

    /// Bytes currently held.
    pub fn used(&self) -> u64 {
        self.used
    }
    /// Of those, bytes held for whole jobs ([`MemoryBudget::reserve`]).
    pub fn resident(&self) -> u64 {
        self.resident
    }
    /// The most bytes ever held at once.
    pub fn peak(&self) -> u64 {
        self.peak
    }
    /// The limit.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_until_full_then_waits_for_release() {
        let mut b = MemoryBudget::new(100);
        let p1 = b.try_admit(60).expect("fits");
        assert!(b.try_admit(50).is_none(), "60 + 50 > 100 must wait");
        let p2 = b.try_admit(40).expect("60 + 40 fits exactly");
        assert_eq!(b.used(), 100);
        b.release(p1);
        let p3 = b.try_admit(50).expect("fits after release");
        b.release(p2);
        b.release(p3);
        assert_eq!(b.used(), 0);
        assert_eq!(b.peak(), 100);
    }

    #[test]
    fn oversized_page_runs_alone() {
        let mut b = MemoryBudget::new(10);
        let big = b.try_admit(1_000).expect("alone it is admitted");
        assert!(b.try_admit(1).is_none(), "nothing joins an oversized page");
        b.release(big);
        assert!(b.try_admit(1).is_some());
    }

    #[test]
    fn resident_bytes_shrink_what_pages_may_use_but_never_stall_them() {
        let mut b = MemoryBudget::new(100);
        let model = b.reserve(70);
        let p = b.try_admit(20).expect("20 fits beside the resident 70");
        assert!(
            b.try_admit(20).is_none(),
            "70 resident + 20 + 20 > 100 must wait"
        );
        let q = b.try_admit(10).expect("10 more fits exactly");
        b.release(p);
        b.release(q);
        b.release(model);
        assert_eq!((b.used(), b.resident()), (0, 0));

        let mut b = MemoryBudget::new(100);
        let model = b.reserve(150);
        let p = b
            .try_admit(10)
            .expect("a page still runs alone beside a model over budget");
        assert!(b.try_admit(1).is_none(), "but nothing joins it");
        b.release(p);
        b.release(model);
        assert_eq!(b.peak(), 160);
    }

    #[test]
    fn resize_reprices_and_blocks_admission() {
        let mut b = MemoryBudget::new(100);
        let mut p = b.try_admit(10).unwrap();
        b.resize(&mut p, 95);
        assert_eq!(b.used(), 95);
        assert!(b.try_admit(10).is_none());
        b.release(p);
        assert_eq!(b.used(), 0);
    }
}
