//! Restores page order after parallel workers finish out of order.

use std::collections::VecDeque;

/// Holds results that arrived before their turn, in a ring of fixed capacity.
///
/// Sequence numbers are dense (0, 1, 2, … in dispatch order). The scheduler may only
/// dispatch `seq` when [`ReorderWindow::has_room_for`] says so, which bounds how far
/// ahead of the oldest unfinished page work can run — and so how many results wait here.
#[derive(Debug)]
pub struct ReorderWindow<T> {
    next: u64,
    slots: VecDeque<Option<T>>,
    capacity: usize,
}

impl<T> ReorderWindow<T> {
    /// A window holding at most `capacity` (≥ 1) results ahead of the next one due.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        ReorderWindow {
            next: 0,
            slots: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// A window whose first result due is `next` (results before it were written by an
    /// earlier, resumed run).
    pub fn starting_at(capacity: usize, next: u64) -> Self {
        ReorderWindow {
            next,
            ..Self::new(capacity)
        }
    }

    /// Whether work with sequence number `seq` may start now.
    pub fn has_room_for(&self, seq: u64) -> bool {
        seq >= self.next && seq < self.next + self.capacity as u64
    }

    /// Files a finished result. Results outside the window or already filed are rejected
    /// and handed back.
    pub fn insert(&mut self, seq: u64, item: T) -> Result<(), T> {
        if !self.has_room_for(seq) {
            return Err(item);
        }
        let offset = (seq - self.next) as usize;
        while self.slots.len() <= offset {
            self.slots.push_back(None);
        }
        match &mut self.slots[offset] {
            slot @ None => {
                *slot = Some(item);
                Ok(())
            }
            Some(_) => Err(item),
        }
    }

    /// Takes the next result in order, if it has arrived.
    pub fn pop_ready(&mut self) -> Option<T> {
        match self.slots.front_mut() {
            Some(slot) if slot.is_some() => {
                let item = slot.take();
                self.slots.pop_front();
                self.next += 1;
                item
            }
            _ => None,
        }
    }

    /// Takes every result still held, in order, gaps skipped: what a document that ends
    /// early must give back (their memory permits, say), including results waiting
    /// behind one that never came.
    pub fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.slots.drain(..).flatten()
    }

    /// The sequence number due next.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// How many results are waiting for an earlier one.
    pub fn waiting(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_returns_results_behind_a_gap() {
        let mut w = ReorderWindow::new(8);
        w.insert(1, "b").unwrap();
        w.insert(3, "d").unwrap();
        assert_eq!(w.pop_ready(), None, "0 has not come");
        assert_eq!(w.drain().collect::<Vec<_>>(), vec!["b", "d"]);
        assert_eq!(w.waiting(), 0);
    }

    #[test]
    fn releases_in_order_whatever_the_arrival_order() {
        let mut w = ReorderWindow::new(4);
        w.insert(2, "c").unwrap();
        w.insert(1, "b").unwrap();
        assert_eq!(w.pop_ready(), None, "0 has not arrived");
        assert_eq!(w.waiting(), 2);
        w.insert(0, "a").unwrap();
        let out: Vec<_> = std::iter::from_fn(|| w.pop_ready()).collect();
        assert_eq!(out, vec!["a", "b", "c"]);
        assert_eq!(w.next_seq(), 3);
    }

    #[test]
    fn bounds_how_far_ahead_work_may_run() {
        let mut w = ReorderWindow::new(3);
        assert!(w.has_room_for(2));
        assert!(!w.has_room_for(3), "capacity 3 admits 0..3 only");
        assert_eq!(w.insert(3, 'x'), Err('x'));
        w.insert(0, 'a').unwrap();
        assert!(w.pop_ready().is_some());
        assert!(w.has_room_for(3), "the window slides as results leave");
        assert!(!w.has_room_for(0), "already released");
    }

    #[test]
    fn rejects_duplicates() {
        let mut w = ReorderWindow::new(2);
        w.insert(1, 1).unwrap();
        assert_eq!(w.insert(1, 2), Err(2));
    }
}
