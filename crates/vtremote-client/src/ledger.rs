//! Inputs in flight, remembered by pts until the output made from them comes back: the
//! input's duration (the original helper returns decoded pictures with duration 0) and the
//! caller's cookie (FFmpeg keeps a packet's properties in it).
//!
//! Outputs are matched by pts because that is what both helpers echo: a decoded picture
//! carries its access unit's pts, a packet its picture's pts, whatever the reordering.

use std::collections::VecDeque;

/// Inputs remembered at most. A helper may legitimately drop inputs (the original server
/// sends nothing for a packet it cannot decode), and their entries are never matched; the
/// bound keeps them from accumulating. It is far above the largest window (128) plus the
/// deepest reordering, so a live entry is never evicted.
pub(crate) const MAX_REMEMBERED: usize = 512;

struct Entry<C> {
    pts: i64,
    duration: i64,
    cookie: C,
}

pub(crate) struct Ledger<C> {
    entries: VecDeque<Entry<C>>,
}

impl<C> Default for Ledger<C> {
    fn default() -> Self {
        Ledger {
            entries: VecDeque::new(),
        }
    }
}

impl<C> Ledger<C> {
    /// Remembers one input; the oldest entry makes room when full (its cookie is dropped).
    pub fn record(&mut self, pts: i64, duration: i64, cookie: C) {
        if self.entries.len() == MAX_REMEMBERED {
            self.entries.pop_front();
        }
        self.entries.push_back(Entry {
            pts,
            duration,
            cookie,
        });
    }

    /// The (duration, cookie) of the oldest input with this pts, forgotten here.
    pub fn take(&mut self, pts: i64) -> Option<(i64, C)> {
        let i = self.entries.iter().position(|e| e.pts == pts)?;
        let e = self.entries.remove(i)?;
        Some((e.duration, e.cookie))
    }

    /// Forgets every input (their cookies are dropped): after a reset none will answer.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn outputs_find_their_input_by_pts_in_any_order() {
        let mut l = Ledger::default();
        for (pts, cookie) in [(0, "I"), (3, "P"), (1, "B1"), (2, "B2")] {
            l.record(pts, 1000 + pts, cookie);
        }
        assert_eq!(l.take(1), Some((1001, "B1")));
        assert_eq!(l.take(3), Some((1003, "P")));
        assert_eq!(l.take(3), None, "taken once");
        assert_eq!(l.take(9), None);
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn equal_pts_are_matched_oldest_first() {
        let mut l = Ledger::default();
        l.record(0, 1, "first");
        l.record(0, 1, "second");
        assert_eq!(l.take(0), Some((1, "first")));
        assert_eq!(l.take(0), Some((1, "second")));
    }

    #[test]
    fn a_full_ledger_drops_its_oldest_cookie_and_clear_drops_the_rest() {
        let cookie = Rc::new(());
        let mut l = Ledger::default();
        for pts in 0..=MAX_REMEMBERED as i64 {
            l.record(pts, 0, cookie.clone());
        }
        assert_eq!(Rc::strong_count(&cookie), 1 + MAX_REMEMBERED);
        assert!(l.take(0).is_none(), "the oldest made room");
        assert!(l.take(1).is_some());
        l.clear();
        assert_eq!(Rc::strong_count(&cookie), 1, "every cookie dropped");
    }
}
