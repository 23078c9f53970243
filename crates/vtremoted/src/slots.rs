//! Admission: at most `max` configured sessions at once; the rest are told "busy".

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Debug)]
pub struct Slots {
    max: usize,
    active: AtomicUsize,
}

/// Holds one slot; returns it on drop, whatever way the session ends.
#[derive(Debug)]
pub struct SlotGuard(Arc<Slots>);

impl Slots {
    pub fn new(max: usize) -> Arc<Slots> {
        Arc::new(Slots {
            max,
            active: AtomicUsize::new(0),
        })
    }

    pub fn max(&self) -> usize {
        self.max
    }

    pub fn active(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    pub fn try_acquire(self: &Arc<Self>) -> Option<SlotGuard> {
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| SlotGuard(self.clone()))
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_and_returned_on_drop() {
        let s = Slots::new(2);
        let a = s.try_acquire().unwrap();
        let _b = s.try_acquire().unwrap();
        assert!(s.try_acquire().is_none());
        assert_eq!(s.active(), 2);
        drop(a);
        assert!(s.try_acquire().is_some());
    }
}
